/* Marks the functions libvshm exports; everything else in the library is hidden. */
#ifndef VSHM_EXPORT_H
#define VSHM_EXPORT_H

#define VSHM_EXPORT __attribute__((visibility("default")))

#endif
