/*
 * A model of the vshm slot protocol (layout 2.2) for the SPIN model checker.
 *
 * docs/protocol.md is the specification; this model is its sections 6.3 to 6.7, 7.1
 * steps 6 and 7 and 7.2 to 7.5 (the writer's begin and publish, waiting for lossless
 * readers, the reader's lossless attach and its count in readers_attached, acquire,
 * release and wait) written as processes, and its section 10 says what the model
 * covers. Keep the two in step: a change to one of those sections is a change here.
 * scripts/check-model.sh runs this model and each broken variant below in the test
 * suite (suite 'model'). The C code modelled is common/writer.c (claim_slot,
 * vshm_writer_publish), common/writer-readers.c (vshm_writer_wait_for_lossless,
 * demote_laggards), common/reader-frames.c (acquire_latest, acquire_next, take, leave,
 * consume, vshm_reader_release), common/reader.c (become_lossless, the count of
 * readers_attached at the end of claim_entry, vshm_reader_wait) and program/readers.c
 * (program_wait_for_readers). The lossless reader's attach is protocol.md section 7.1
 * steps 6 and 7: its second load of latest, which the variant ATTACH_EARLY below lacks,
 * and then its count in readers_attached, which the variant COUNTED_EARLY makes first.
 *
 * Modelled: a writer publishing FRAMES frames into 3 slots, and two readers. The second
 * reader is lossy too by default, or, with -DLOSSLESS_READER, attaches lossless at any
 * moment (before the first frame, after any of them, or in the middle of the writer's
 * steps), and takes every frame by its count from then on. With -DWAIT_FOR_READER
 * too, the writer waits before its first frame until readers_attached says both
 * readers are there, as a program with --wait-readers 2 does (the first reader,
 * attached before the writer began, counts from the start): the lossless reader raises
 * readers_attached last, after its second look at latest. The latest word with its
 * entered count, the holder counts, the sequence counters (odd while a slot is
 * written), each slot's metadata and pixels, the sleepers count and the publish futex,
 * consumed numbers, writer_waiting and the consumed futex, demotion when the writer's
 * wait times out, and the overwrite of a held slot when readers hold every other one.
 * Each atomic operation of the C code is one Promela statement or atomic block; plain
 * loads and stores of shared words are steps of their own, so every interleaving of
 * them is explored. A futex wait ends with a wake-up or, at any moment, with its
 * timeout: timeouts are nondeterministic choices, as they are to the protocol.
 *
 * Not modelled: memory orders weaker than sequential consistency (tests/
 * test-interleavings.c runs the real code under weaker ones; protocol.md section 9
 * says which C11 order gives each step what this model assumes), readers that die and
 * the repair of the counts they leave (protocol.md section 8), frames in flight,
 * cancel, moves to a bigger segment (whose wait for the lossless readers to be done
 * attaching before the first frame there is the wait of WAIT_FOR_READER, with a check
 * of the reader table in place of the count), and the bounds checks of metadata.
 *
 * Properties: assertions, each marked with its name on its first line, checked in
 * every reachable state (SPIN explores them all; check-model.sh fails if it cannot):
 *   P1 no reader accepts a torn frame: the metadata and pixels of a frame that release
 *      calls intact are those of the frame acquire said it took;
 *   P2 latest always names a slot whose sequence is 2n, for the n it names;
 *   P3 the writer starts rewriting a slot a reader holds only by a counted overwrite
 *      (readers held every candidate), or under a lossless reader it demoted;
 *   P4 in the default mode (no lossless reader attached) the writer never waits;
 *   P5 no lost wake-up: no reader sleeps while a frame newer than its last one is
 *      published (a publish completed, its wake-up done); the writer does not sleep
 *      while every lossless reader has consumed the frame it waits for;
 *   P6 a lossless reader that is not demoted takes every frame published after its
 *      attach, in order: each frame it takes, the first included, is the one after the
 *      last it took (at first, the latest when its attach ended); it finds it in a slot
 *      whenever latest names a newer frame, and finds it intact; and no frame it holds
 *      is overwritten while it holds it;
 *   P7 with WAIT_FOR_READER, the lossless reader the writer waited for takes the
 *      writer's first frame first (and, by P6, every frame after it), unless demoted.
 *
 * Broken variants: each must make SPIN report a violation of the property named (spin
 * -DBROKEN_<NAME>, in the mode given; check-model.sh checks that each does).
 *   NO_RECHECK         release does not re-read the sequence (P1)
 *   IGNORE_HOLDERS     begin ignores the holder counts and takes the oldest slot (P3)
 *   PUBLISH_LOAD_STORE publish loads the latest word and then stores the new one,
 *                      instead of one exchange: a reader that enters in between is
 *                      counted nowhere (P3)
 *   WAIT_FOR_HOLDERS   begin waits for a held slot to be left instead of overwriting
 *                      it (P4)
 *   WAKE_EARLY         publish looks for sleepers before it stores the latest word (P5)
 *   NO_SLEEP_RECHECK   a reader sleeps without looking at latest once more after
 *                      loading the futex word (P5)
 *   WRITER_WAIT_ORDER  the writer looks at consumed before it says it waits (P5,
 *                      lossless)
 *   NO_LOSSLESS_WAIT   begin does not wait for lossless readers (P6, lossless)
 *   CONSUME_EARLY      a lossless reader says it consumed a frame when it takes it (P6,
 *                      lossless)
 *   FIRST_LATEST       a lossless reader takes its first frame as a lossy reader does,
 *                      the latest, entered through the word (P6, lossless)
 *   ATTACH_EARLY       a lossless reader does not load latest again once its flag is
 *                      set: the last frame it does not take is the latest from before
 *                      the writer could see it, so it may take a frame the writer is
 *                      claiming (P6, lossless); protocol.md section 7.1.
 *   COUNTED_EARLY      a lossless reader counts itself in readers_attached before its
 *                      looks at latest, as libvshm did: a writer waiting for it may
 *                      publish before them, and it starts after frames it was waited
 *                      for (P7, lossless and WAIT_FOR_READER); protocol.md section 7.1
 *                      step 7.
 */

#if defined(WAIT_FOR_READER) && !defined(LOSSLESS_READER)
#error "WAIT_FOR_READER waits for the lossless reader: use it with LOSSLESS_READER"
#endif
#if defined(BROKEN_COUNTED_EARLY) && !defined(WAIT_FOR_READER)
#error "COUNTED_EARLY breaks the wait of WAIT_FOR_READER: use it with that"
#endif

#ifndef FRAMES
#define FRAMES 4 /* the fewest publishes in which readers can hold every candidate */
#endif
#define NSLOTS   3
#define NREADERS 2
#define NONE     255 /* no slot; also "no lossless reader" for least_consumed */

/* reader entry flags */
#define LOSSLESS 1
#define DEMOTED  2

/* The latest word: slot, publish number and entered readers (bits 0..7, 8..47 and
 * 48..63 of one 64-bit word); each operation on it is one atomic block. */
byte latest_slot = 0;
byte latest_number = 0;
byte entered = 0;

/* Header words. */
short slot_holders[NSLOTS]; /* signed: a reader may subtract before the writer adds */
byte publish_futex = 0;
byte sleepers = 0;
byte lossless_readers = 0;
byte consumed_futex = 0;
bit writer_waiting = 0;
#ifdef WAIT_FOR_READER
/* The first reader attached before the writer began, and counts from the start. */
byte readers_attached = 1;
#endif

/* Reader entries. */
byte consumed[NREADERS];
byte flags[NREADERS];

/* Slots: sequence counter; metadata, here the publish number the writer says the slot
 * carries; pixels, the publish number of the frame they are or are becoming. */
byte sequence[NSLOTS];
byte info[NSLOTS];
byte pixels[NSLOTS];

/* The kernel's futex queues. */
bit reader_asleep[NREADERS];
bit writer_asleep = 0;

/* The readers' own last_acquired (the publish number of the last frame taken or
 * rejected), global so that the writer's assertions can read it. */
byte reader_last[NREADERS];

/* Ghost state, for the properties only: the protocol's steps never read it. */
byte holding[NREADERS] = NONE; /* slot a reader holds (entering to leaving), or NONE */
bit holding_counted[NREADERS]; /* held through the word and the counts; else lossless */
bit publishing = 0;            /* between the exchange of latest and the wake-up */
bit consuming[NREADERS];       /* between storing consumed and the wake-up */
byte writer_wait_number = 0;   /* the frame the writer waits to see consumed */
bit ever_lossless = 0;         /* a reader attached lossless */
bit writer_done = 0;
#ifdef WAIT_FOR_READER
bit lossless_took = 0; /* the lossless reader has taken a frame */
#endif

/* ------------------------------------------------------------------ the writer --- */

/* least_consumed(): the smallest consumed number of a lossless reader, or NONE. One
 * step, though the C code loads each entry's flags and then its consumed: only the
 * second reader can be lossless, it sets its flag once, after its consumed, and only
 * the writer itself clears it, so the two loads decide as one load of both would, made
 * when the C code loads the flag (not set) or the consumed number (flag set). */
inline least_consumed(result)
{
	atomic {
		result = NONE;
		if
		:: (flags[0] & LOSSLESS) && consumed[0] < result -> result = consumed[0]
		:: else
		fi;
		if
		:: (flags[1] & LOSSLESS) && consumed[1] < result -> result = consumed[1]
		:: else
		fi
	}
}

/* demote_laggards(): lossless readers that have not consumed `number` become lossy;
 * the flags change by compare-and-exchange, so a reader is demoted and counted once. */
inline demote_laggards(number)
{
	i = 0;
	do
	:: i < NREADERS ->
		atomic {
			if
			:: flags[i] == LOSSLESS && consumed[i] < number ->
				flags[i] = DEMOTED;
				demoted = 1
			:: else
			fi
		}
		if
		:: demoted -> lossless_readers--; demoted = 0
		:: else
		fi;
		i++
	:: else -> i = 0; break
	od
}

/* vshm_writer_wait_for_lossless(): until every lossless reader has consumed `number`;
 * when the deadline passes (a nondeterministic choice), demote the laggards. */
inline wait_for_lossless(number)
{
	if
	:: lossless_readers == 0 -> goto waited /* the default mode: never waits */
	:: else
	fi;
	least_consumed(least);
	if
	:: least >= number -> least = 0; goto waited
	:: else
	fi;
	assert(ever_lossless); /* P4 */
	do
	:: demote_laggards(number); least = 0; break /* the deadline passed */
	:: true ->
#ifndef BROKEN_WRITER_WAIT_ORDER
		writer_waiting = 1;
		word = consumed_futex;
		least_consumed(least);
#else
		least_consumed(least);
		writer_waiting = 1;
		word = consumed_futex;
#endif
		if
		:: least >= number -> writer_waiting = 0; least = 0; word = 0; break
		:: else
		fi;
		/* FUTEX_WAIT(consumed_futex, word): the kernel compares and queues at once */
		atomic {
			if
			:: consumed_futex == word ->
				writer_wait_number = number;
				writer_asleep = 1;
				least_consumed(least);
				assert(least < number || consuming[0] || consuming[1]) /* P5 */
			:: else
			fi;
			word = 0;
			least = 0
		}
		if
		:: !writer_asleep /* woken, or never slept */
		:: atomic { writer_asleep -> writer_asleep = 0 } /* the slice timed out */
		fi;
		writer_wait_number = 0;
		writer_waiting = 0
	od;
waited:
	skip
}

active proctype writer()
{
	byte n = 1;
	byte latest = NONE; /* the writer's own record of the latest slot */
	byte slot_publish[NSLOTS];
	byte slot, i, best, least, word, previous;
	bit overwrite, demoted, wake;

#ifdef WAIT_FOR_READER
	/* program_wait_for_readers(): nothing is begun until both readers are counted
	 * (an acquire load of readers_attached, polled; here, one blocking step). */
	readers_attached >= NREADERS;
#endif
	do
	:: n > FRAMES -> break
	:: else ->
		/* begin, claim_slot(): of the candidates (every slot but the latest), the
		 * least recently published whose holder count reads 0 or less. One step:
		 * the count of a slot that is not the latest only goes down until the next
		 * publish (readers enter only the latest frame; only publish adds), so one
		 * load at a time decides as a snapshot would, or finds more slots free. */
		atomic {
			best = NONE;
			i = 0;
			do
			:: i < NSLOTS ->
				if
#ifndef BROKEN_IGNORE_HOLDERS
				:: i != latest && slot_holders[i] <= 0 &&
				   (best == NONE || slot_publish[i] < slot_publish[best]) -> best = i
#else
				:: i != latest && (best == NONE || slot_publish[i] < slot_publish[best]) ->
					best = i
#endif
				:: else
				fi;
				i++
			:: else -> i = 0; break
			od
		}
		if
		:: best == NONE ->
#ifdef BROKEN_WAIT_FOR_HOLDERS
			/* waits for a reader to leave a slot, as a blocking writer would */
			assert(ever_lossless); /* P4 */
			(slot_holders[0] <= 0 && latest != 0) || (slot_holders[1] <= 0 && latest != 1) ||
			    (slot_holders[2] <= 0 && latest != 2);
#endif
			/* Readers hold every candidate: take the oldest, and count it. */
			atomic {
				i = 0;
				do
				:: i < NSLOTS ->
					if
					:: i != latest &&
					   (best == NONE || slot_publish[i] < slot_publish[best]) -> best = i
					:: else
					fi;
					i++
				:: else -> i = 0; break
				od;
				overwrite = 1
			}
		:: else
		fi;
		slot = best;
		best = 0;
#ifndef BROKEN_NO_LOSSLESS_WAIT
		if
		:: slot_publish[slot] != 0 -> wait_for_lossless(slot_publish[slot])
		:: else
		fi;
#endif
		/* seqcount_write_begin(): odd from here on. Only this store and the even one
		 * below change a sequence, and the even one makes it 2n just before the word
		 * names it; so latest names a stable slot if this store never hits it. */
		atomic {
			assert(latest_number == 0 || slot != latest_slot); /* P2 */
			assert(holding[0] != slot || !holding_counted[0] || overwrite); /* P3 */
			assert(holding[1] != slot || !holding_counted[1] || overwrite); /* P3 */
			assert(holding[0] != slot || holding_counted[0] || (flags[0] & DEMOTED)); /* P6 */
			assert(holding[1] != slot || holding_counted[1] || (flags[1] & DEMOTED)); /* P6 */
			sequence[slot] = 2 * n - 1;
			overwrite = 0
		}
		/* The program fills the pixels; a reader that looks first sees the old ones. */
		pixels[slot] = n;

		/* publish: metadata, the even count, then the latest word. */
		info[slot] = n;
		sequence[slot] = 2 * n;
#ifdef BROKEN_WAKE_EARLY
		wake = sleepers > 0;
#endif
#ifndef BROKEN_PUBLISH_LOAD_STORE
		atomic { /* exchange, which collects the readers that entered the previous frame */
			previous = entered;
			latest_slot = slot;
			latest_number = n;
			entered = 0;
			publishing = 1
		}
#else
		previous = entered;
		atomic { latest_slot = slot; latest_number = n; entered = 0; publishing = 1 }
#endif
		atomic {
			if
			:: previous > 0 && latest != NONE ->
				slot_holders[latest] = slot_holders[latest] + previous
			:: else
			fi;
			previous = 0
		}
		publish_futex = n;
#ifndef BROKEN_WAKE_EARLY
		wake = sleepers > 0;
#endif
		atomic {
			if
			:: wake -> reader_asleep[0] = 0; reader_asleep[1] = 0 /* FUTEX_WAKE */
			:: else
			fi;
			publishing = 0;
			assert(!reader_asleep[0] || reader_last[0] >= n); /* P5 */
			assert(!reader_asleep[1] || reader_last[1] >= n); /* P5 */
			wake = 0;
			slot_publish[slot] = n;
			latest = slot;
			slot = 0;
			n++
		}
	od;
	writer_done = 1
}

/* ----------------------------------------------------------------- the readers --- */

/* leave(): off frame `number` in slot s, which the reader entered: through the word
 * while that frame is still the latest there (a compare-and-exchange loop, which ends
 * when the word names another frame), else through the slot's holder count (for
 * number 0, nothing: the writer's first publish dropped the count). */
inline leave(s, number)
{
	atomic {
		if
		:: latest_slot == s && latest_number == number ->
			entered--;
			holding[me] = NONE;
			via_word = 1
		:: else
		fi
	}
	atomic {
		if
		:: !via_word && number != 0 -> slot_holders[s] = slot_holders[s] - 1
		:: else
		fi;
		holding[me] = NONE;
		holding_counted[me] = 0;
		via_word = 0
	}
}

/* consume(): frame `number` is done with; a waiting writer is told. */
inline consume(number)
{
	atomic { consumed[me] = number; consuming[me] = 1 }
	consumed_futex++;
	atomic {
		if
		:: writer_waiting -> writer_asleep = 0 /* FUTEX_WAKE */
		:: else
		fi;
		consuming[me] = 0;
		assert(!writer_asleep || !(flags[me] & LOSSLESS) ||
		       consumed[me] < writer_wait_number) /* P5 */
	}
}

/* take(): steps 3 and 4 of acquire, for frame `number` in slot s: result 0 taken,
 * 1 retry. The metadata is copied between two loads of the sequence. */
inline take(s, number)
{
	atomic {
		if
		:: sequence[s] == 2 * number ->
			if
			:: !counted -> holding[me] = s
			:: else
			fi
		:: else ->
			assert(!(latest_slot == s && latest_number == number)); /* P2 */
			result = 1
		fi
	}
	if
	:: result == 0 ->
		torn = info[s] != number; /* the copy of the metadata */
		if
		:: sequence[s] != 2 * number -> result = 1; torn = 0
		:: else
		fi
	:: else
	fi;
	if
	:: !counted && result != 0 -> holding[me] = NONE
	:: else
	fi
}

proctype reader(byte me)
{
	bit lossless = 0, counted, via_word, intact, torn;
#ifdef BROKEN_FIRST_LATEST
	bit first = 0; /* lossless, and no frame taken yet */
#endif
	byte s, number, word, result, next, found;

	/* The second reader attaches lossy, or in lossless mode lossless,
	 * become_lossless(): consumed = the latest number (the frames up to it are not
	 * ours to wait for), counted among the lossless readers, the flag; then latest
	 * once more: the frame before it is the last one it does not take (last_acquired),
	 * unless it is the first latest itself. With WAIT_FOR_READER, it then counts itself
	 * in readers_attached, which is what the writer waits for. */
#ifdef LOSSLESS_READER
	if
	:: me == 1 ->
		lossless = 1;
#ifdef BROKEN_FIRST_LATEST
		first = 1;
#endif
		ever_lossless = 1;
#ifdef BROKEN_COUNTED_EARLY
		readers_attached++; /* counted before its looks at latest */
#endif
		consumed[me] = latest_number;
		lossless_readers++;
#ifndef BROKEN_ATTACH_EARLY
		flags[me] = LOSSLESS;
		/* Latest once more: if a frame was published since the first load, only
		 * that one is safe from claims that did not see us; the ones before it are
		 * consumed, never waited for. */
		number = latest_number;
		if
		:: number > consumed[me] ->
			reader_last[me] = number - 1;
			consume(number - 1)
		:: else ->
			reader_last[me] = consumed[me]
		fi;
		number = 0
#else
		atomic { flags[me] = LOSSLESS; reader_last[me] = consumed[me] }
#endif
#if defined(WAIT_FOR_READER) && !defined(BROKEN_COUNTED_EARLY)
		/* Counted last, after both looks at latest (release, in the C code): a
		 * writer that waits for the count publishes nothing before them. */
		readers_attached++
#endif
	:: else
	fi;
#endif

next_frame:
	/* vshm_reader_wait(): until a frame newer than the last one taken is published
	 * (libvshm tests that the number differs, which is the same here: the model's
	 * writer is honest, so numbers only grow).
	 * The first reader may also call acquire without waiting, as spinning readers
	 * do: then it may take the same frame again, or find nothing published yet. */
	do
	:: latest_number > reader_last[me] -> break
	:: me == 0 && !writer_done -> break /* no wait */
	:: latest_number <= reader_last[me] && writer_done -> goto finished /* the model's end */
	:: latest_number <= reader_last[me] && !writer_done ->
		sleepers++;
		word = publish_futex;
#ifndef BROKEN_NO_SLEEP_RECHECK
		if
		:: latest_number > reader_last[me] -> word = 0
		:: else ->
#endif
			/* FUTEX_WAIT(publish_futex, word): the kernel compares and queues at once */
			atomic {
				if
				:: publish_futex == word ->
					reader_asleep[me] = 1;
					assert(latest_number <= reader_last[me] || publishing) /* P5 */
				:: else
				fi;
				word = 0
			}
			if
			:: !reader_asleep[me] /* woken, or never slept */
			:: atomic { reader_asleep[me] -> reader_asleep[me] = 0 } /* timed out */
			fi
#ifndef BROKEN_NO_SLEEP_RECHECK
		fi;
#endif
		sleepers--
	od;

	/* vshm_reader_acquire() */
	if
	:: lossless && (flags[me] & DEMOTED) -> lossless = 0 /* the writer gave up on us */
	:: else
	fi;
	if
#ifndef BROKEN_FIRST_LATEST
	:: lossless ->
#else
	:: lossless && !first ->
#endif
		/* acquire_next(), every acquire of a lossless reader, the first included: the
		 * lowest publish number above the last one taken, and not above latest, among
		 * the slots' even counts. Nothing to enter: the writer keeps the frame until
		 * consumed says we are done with it. */
		number = latest_number;
		next = NONE;
		s = 0;
		do
		:: s < NSLOTS ->
			atomic { /* one load of the slot's sequence */
				if
				:: sequence[s] % 2 == 0 && sequence[s] / 2 > reader_last[me] &&
				   sequence[s] / 2 <= number && sequence[s] / 2 < next ->
					next = sequence[s] / 2;
					found = s
				:: else
				fi;
				s++
			}
		:: else -> break
		od;
		if
		:: next == NONE ->
			/* -EAGAIN. The wait above returned because latest named a frame after
			 * the last one taken, and the writer keeps every frame not consumed, so
			 * only a reader demoted since finds none. */
			assert(flags[me] & DEMOTED); /* P6 */
			atomic { s = 0; number = 0; next = 0 }
			goto next_frame
		:: else
		fi;
		atomic { s = found; number = next; found = 0; next = 0 }
		take(s, number);
		if
		:: result == 0 -> goto taken
		:: else -> /* rewritten as we took it: -EAGAIN, only if we were demoted */
			assert(flags[me] & DEMOTED); /* P6 */
			atomic { s = 0; number = 0; result = 0 }
			goto next_frame
		fi
	:: else
	fi;

	/* acquire_latest(): enter through the word. The C code tries up to 8 times
	 * before it returns -EAGAIN; here a failed attempt returns at once, and the wait
	 * that follows returns at once too (a newer frame is there), which makes the
	 * same steps as a second attempt. */
	atomic { /* fetch_add of one entered reader */
		s = latest_slot;
		number = latest_number;
		entered++;
		counted = 1;
		if
		:: number != 0 -> holding[me] = s; holding_counted[me] = 1
		:: else
		fi
	}
	if
	:: number == 0 -> leave(s, number); s = 0; counted = 0; goto next_frame /* -EAGAIN */
	:: else
	fi;
	take(s, number);
	if
	:: result == 0
	:: else ->
		leave(s, number);
		atomic { result = 0; s = 0; number = 0; counted = 0 }
		goto next_frame
	fi;

taken:
	atomic {
		/* A lossless reader not demoted takes the frame after the last one it took,
		 * its first the one after the latest when it attached. */
		assert(!lossless || !(flags[me] & LOSSLESS) || number == reader_last[me] + 1); /* P6 */
#ifdef WAIT_FOR_READER
		/* The writer waited for it: its first frame is the writer's first. */
		assert(!lossless || !(flags[me] & LOSSLESS) || lossless_took || number == 1); /* P7 */
		lossless_took = lossless_took || lossless;
#endif
		reader_last[me] = number;
#ifdef BROKEN_FIRST_LATEST
		first = 0
#endif
	}
#ifdef BROKEN_CONSUME_EARLY
	if
	:: lossless -> consume(number)
	:: else
	fi;
#endif

	/* The program reads the pixels in place. */
	torn = torn || pixels[s] != number;

	/* vshm_reader_release(): has the count moved since acquire? */
#ifndef BROKEN_NO_RECHECK
	intact = sequence[s] == 2 * number;
#else
	intact = 1;
#endif
	if
	:: counted -> leave(s, number)
	:: else -> holding[me] = NONE
	fi;
#ifndef BROKEN_CONSUME_EARLY
	if
	:: lossless -> consume(number)
	:: else
	fi;
#endif
	atomic {
		/* a frame called intact is the frame it was said to be */
		assert(!intact || !torn); /* P1 */
		/* a lossless reader's frame, its first included, is not overwritten under
		 * it unless it was demoted */
		assert(intact || !lossless || (flags[me] & DEMOTED)); /* P6 */
		intact = 0;
		torn = 0;
		s = 0;
		number = 0;
		counted = 0
	}
	goto next_frame;

finished:
	skip
}

init
{
	atomic {
		run reader(0);
		run reader(1)
	}
}
