#!/usr/bin/env python3
"""check.py RESULTS.json DIR [--update]
Checks a run of tests/sbml_suite/run.py against DIR/passing.txt (the cases that passed when it was
committed): no case is wrong, crashed, units-mismatched or a runner error, and every listed case
still passes. Prints the counts per category and per refused construct (DIR/counts.txt holds the
committed ones). --update rewrites passing.txt and counts.txt from this run."""
import collections, json, os, re, sys

res, d = json.load(open(sys.argv[1])), sys.argv[2]
cases = res['cases']
by_kind = collections.defaultdict(list)
for n, kind, msg in cases:
    by_kind[kind].append((n, msg))


GROUPS = [  # (pattern in the refusal, the construct it names), first match wins
    (r'algebraic rule', 'algebraic rules'),
    (r'event .*trigger', 'events with state-dependent triggers'),
    (r'event .*<priority>', 'event priorities'),
    (r'event .*<delay>|delay of event', 'event delays'),
    (r'event .*assignment to', 'event assignments to parameters or compartments'),
    (r'csymbol> rateOf', 'rateOf'),
    (r'csymbol> delay', 'the delay csymbol'),
    (r'compartment .* with a rule', 'variable compartment sizes'),
    (r'variable stoichiometry|stoichiometryMath|rule for unknown symbol', 'variable stoichiometry'),
    (r'conversionFactor', 'conversion factors'),
    (r'fast reaction', 'fast reactions'),
    (r'initial assignment', 'initial assignments over non-constant values'),
    (r'has no size', 'compartments without a size'),
    (r'has no <math>|has no <trigger>|has no <lambda>', 'elements without math'),
    (r'MathML', 'other MathML'),
    (r'an id `time`', 'an id named time'),
]


def construct(msg):
    """The refused construct: the first group whose pattern the one-line error matches."""
    for pattern, name in GROUPS:
        if re.search(pattern, msg):
            return name
    return 'other: ' + re.sub(r'^error: \S+ ', '', msg)[:70]


lines = ['SBML Test Suite, semantic cases: ' + ' '.join(f'{k}={len(v)}' for k, v in sorted(by_kind.items()))]
inscope = len(cases) - len(by_kind['out-of-scope']) - len(by_kind['skipped'])
lines.append(f'in scope (time courses from 0, no package): {inscope}; pass {len(by_kind["pass"])} '
             f'({100 * len(by_kind["pass"]) / inscope:.1f}%)')
lines.append('refused, by construct:')
for m, c in collections.Counter(construct(m) for _, m in by_kind['refused']).most_common():
    lines.append(f'  {c:5d}  {m}')
report = '\n'.join(lines) + '\n'
print(report, end='')

passing_file = os.path.join(d, 'passing.txt')
if '--update' in sys.argv:
    open(passing_file, 'w').write(''.join(f'{n}\n' for n, _ in sorted(by_kind['pass'])))
    open(os.path.join(d, 'counts.txt'), 'w').write(report)
    print(f'wrote {passing_file} ({len(by_kind["pass"])} cases) and counts.txt')

bad = [(k, n, m) for k in ('wrong', 'crash', 'units', 'missing', 'runner') for n, m in by_kind[k]]
for k, n, m in bad:
    print(f'FAIL {k}: case {n}: {m}')
floor = [l.strip() for l in open(passing_file) if l.strip()]
passed = {n for n, _ in by_kind['pass']}
lost = [n for n in floor if n not in passed]
for n in lost:
    kind, msg = next((k, m) for c, k, m in cases if c == n)
    print(f'FAIL case {n} passed when passing.txt was committed, now {kind}: {msg}')
new = len(passed) - len(set(floor) & passed)
if new:
    print(f'note: {new} cases pass that passing.txt does not list (tests/sbml_suite.sh --update)')
if bad or lost:
    sys.exit(1)
print(f'sbml_suite: ok ({len(passed)} pass, floor {len(floor)}; 0 wrong, 0 crash)')
