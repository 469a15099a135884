#!/usr/bin/env bash
# The mutation run: does the suite catch bugs? Applies each mutant of tests/mutants.txt
# alone to a copy of the tree (build-mutate/tree: the tracked files as they are in this
# checkout), rebuilds, and runs the tests until one fails: the suites of the mutant's
# component first, then the rest, quickest first. Prints, for each mutant, the test that
# killed it or SURVIVED, and at the end the score: killed mutants out of all but the
# equivalent ones (and any that no longer apply or build, which are listed: fix the
# list). Takes tens of minutes; run it on an idle machine, not in CI.
#
# Usage: scripts/mutate.sh [--no-baseline] [NAME...]   (only the mutants named;
#          --no-baseline: do not first check that the suite passes without a mutant,
#          for a few mutants right after a run that checked it)
#        scripts/mutate.sh --list         (the mutants, with why and whether equivalent)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work="$top/build-mutate"
tree="$work/tree"
list="$top/tests/mutants.txt"

for tool in meson ninja python3 git; do
  if ! command -v "$tool" >/dev/null; then
    echo "mutate.sh: '$tool' not found; run ./scripts/build.sh first (it installs what vshm needs)" >&2
    exit 1
  fi
done

exec python3 - "$top" "$tree" "$list" "$@" <<'PYTHON'
import os, re, shutil, subprocess, sys, time

top, tree, mutants_file, *arguments = sys.argv[1:]
build = os.path.join(tree, 'build')

# Tests in the order they run: the quick ones first, so most mutants die in seconds.
SUITE_ORDER = ['unit', 'process', 'pipeline', 'camera', 'capture', 'python', 'gstreamer',
               'record', 'viewer']
# The suites of the component a mutant changes go first (a mutant in the viewer would
# otherwise wait for every other suite to pass before the viewer's tests kill it); the
# rest still run after them, so the verdict is the same, only sooner.
COMPONENT_SUITES = {'viewer/': ['viewer'], 'capture/': ['capture', 'camera'],
                    'gst/': ['gstreamer'], 'python/': ['python'],
                    'samples/': ['pipeline'], 'tools/': ['pipeline'],
                    'program/': ['unit', 'pipeline']}

def parse(path):
    mutants, current, section = [], None, None
    for line in open(path).read().split('\n'):
        if line.startswith('=== '):
            current = {'name': line[4:].strip(), 'find': [], 'replace': []}
            mutants.append(current)
            section = None
        elif current is None or (section is None and line.startswith('#')):
            continue
        elif line == '--- find':
            section = 'find'
        elif line == '+++ replace':
            section = 'replace'
        elif section:
            current[section].append(line)
        elif ':' in line:
            key, value = line.split(':', 1)
            current[key.strip()] = value.strip()
    for mutant in mutants:
        for key in ('find', 'replace'):
            while mutant[key] and mutant[key][-1] == '':
                mutant[key].pop()
            mutant[key] = '\n'.join(mutant[key])
    return mutants

def run(command, timeout=None, **keywords):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, **keywords)

def copy_tree():
    files = run(['git', '-C', top, 'ls-files', '-z']).stdout.split('\0')
    os.makedirs(tree, exist_ok=True)
    for name in files:
        if not name:
            continue
        source, target = os.path.join(top, name), os.path.join(tree, name)
        if not os.path.isfile(source):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target) or open(source, 'rb').read() != open(target, 'rb').read():
            shutil.copy2(source, target)

def tests_in_order():
    """(suite, name) of every test, in SUITE_ORDER."""
    listed = run(['meson', 'test', '-C', build, '--list']).stdout.split('\n')
    tests = []
    for line in listed:
        match = re.match(r'^vshm:(\S+) / (\S+)$', line.strip())
        if match:
            tests.append((match.group(1), match.group(2)))
    rank = {suite: i for i, suite in enumerate(SUITE_ORDER)}
    return sorted(tests, key=lambda t: rank.get(t[0], len(rank)))

def tests_for(mutant, tests):
    """The test names for one mutant: those it names (tests: in the list), then its
    component's suites, then the rest, each once."""
    first = mutant.get('tests', '').split()
    for prefix, suites in COMPONENT_SUITES.items():
        if mutant['file'].startswith(prefix):
            first += [name for suite in suites for s, name in tests if s == suite]
    names = [name for _, name in tests]
    ordered = [name for name in first if name in names]
    return list(dict.fromkeys(ordered + names))

def first_failing(tests):
    """The first test that fails, or None when all pass."""
    for name in tests:
        result = run(['meson', 'test', '-C', build, '--no-rebuild', name], timeout=1200)
        if result.returncode != 0:
            return name
    return None

mutants = parse(mutants_file)
check_baseline = '--no-baseline' not in arguments
arguments = [a for a in arguments if a != '--no-baseline']
if arguments[:1] == ['--list']:
    for mutant in mutants:
        mark = ' (equivalent: %s)' % mutant['equivalent'] if 'equivalent' in mutant else ''
        print('%-36s %s: %s%s' % (mutant['name'], mutant['file'], mutant['why'], mark))
    sys.exit(0)
if arguments:
    unknown = set(arguments) - {m['name'] for m in mutants}
    if unknown:
        sys.exit('mutate.sh: no mutant called %s in %s' % (', '.join(sorted(unknown)), mutants_file))
    mutants = [m for m in mutants if m['name'] in arguments]

print('mutate.sh: copying the tree to %s and building it' % tree, flush=True)
copy_tree()
if not os.path.exists(os.path.join(build, 'build.ninja')):
    setup = run(['meson', 'setup', build, tree])
    if setup.returncode:
        sys.exit('mutate.sh: meson setup failed:\n' + setup.stdout)
built = run(['ninja', '-C', build])
if built.returncode:
    sys.exit('mutate.sh: the unmutated tree does not build:\n' + built.stdout[-3000:])
tests = tests_in_order()
print('mutate.sh: %d tests%s' % (len(tests), '; checking that all pass without a mutant'
                                  if check_baseline else ''), flush=True)
baseline = check_baseline and first_failing([name for _, name in tests])
if baseline:
    sys.exit('mutate.sh: %s fails without any mutant; fix that first' % baseline)

killed, survived, equivalent, broken = [], [], [], []
start = time.time()
for number, mutant in enumerate(mutants, 1):
    label = '[%d/%d] %s' % (number, len(mutants), mutant['name'])
    if 'equivalent' in mutant:
        equivalent.append(mutant)
        print('%-48s equivalent: %s' % (label, mutant['equivalent']), flush=True)
        continue
    path = os.path.join(tree, mutant['file'])
    original = open(path).read() if os.path.exists(path) else ''
    if original.count(mutant['find']) != 1:
        broken.append((mutant, 'does not apply'))
        print('%-48s DOES NOT APPLY (the text is not in %s exactly once)' % (label, mutant['file']), flush=True)
        continue
    try:
        open(path, 'w').write(original.replace(mutant['find'], mutant['replace']))
        built = run(['ninja', '-C', build])
        if built.returncode:
            broken.append((mutant, 'does not build'))
            print('%-48s DOES NOT BUILD' % label, flush=True)
            continue
        began = time.time()
        failing = first_failing(tests_for(mutant, tests))
        if failing:
            killed.append((mutant, failing))
            print('%-48s killed by %s (%.0f s)' % (label, failing, time.time() - began), flush=True)
        else:
            survived.append(mutant)
            print('%-48s SURVIVED: %s' % (label, mutant['why']), flush=True)
    finally:
        open(path, 'w').write(original)
run(['ninja', '-C', build])

counted = len(killed) + len(survived)
print()
print('mutate.sh: %d mutants: %d killed, %d survived, %d equivalent, %d broken; %.0f minutes'
      % (len(mutants), len(killed), len(survived), len(equivalent), len(broken),
         (time.time() - start) / 60))
if counted:
    print('mutate.sh: score %.0f%% of %d non-equivalent mutants killed'
          % (100.0 * len(killed) / counted, counted))
for mutant in survived:
    print('  survived: %s (%s): %s' % (mutant['name'], mutant['file'], mutant['why']))
for mutant, why in broken:
    print('  %s: %s (%s)' % (why, mutant['name'], mutant['file']))
sys.exit(1 if survived or broken else 0)
PYTHON
