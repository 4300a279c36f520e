import type { FaultSpec } from '../xenstore/faults/plan.ts';

/** The fault options `xenwire proxy` and `xenwire serve` share (parseArgs table). */
export const FAULT_OPTIONS = {
  delay: { type: 'string' },
  split: { type: 'string' },
  'drop-after': { type: 'string' },
  'reset-after': { type: 'string' },
  inject: { type: 'string', multiple: true },
  'duplicate-events': { type: 'string' },
  'reorder-events': { type: 'string' },
  stall: { type: 'string' },
  'fault-seed': { type: 'string' },
} as const;

/** Their usage text. */
export const FAULT_USAGE = `Faults (each seeded by --fault-seed N, random and printed when not given, and traced):
  --delay MS|MIN-MAX        delay every message to the client
  --split N|MIN-MAX         write every message to the client in chunks of N bytes
  --drop-after N|MIN-MAX    close the connection instead of forwarding request N+1
  --reset-after N|MIN-MAX   forward request N+1, send half its reply, close the connection
  --inject OP:PATH:ERRNO[:RATE]
                            answer matching requests with ERRNO instead (repeatable; OP is a
                            type name or *, PATH a pattern where * is any one element and
                            subpaths match: 'WRITE:/local/domain/*/device/*:EAGAIN:0.1')
  --duplicate-events RATE   deliver that fraction of watch events twice
  --reorder-events RATE     deliver that fraction of watch events after the next one
  --stall RATE:MS           hold that fraction of replies, and all after them, for MS ms
`;

type FaultValues = {
  readonly [K in keyof typeof FAULT_OPTIONS]?: K extends 'inject' ? string[] : string;
};

/** The {@link FaultSpec} the options give; undefined when they give none. */
export function faultSpecOf(values: FaultValues): FaultSpec | undefined {
  const spec: FaultSpec = {
    seed: values['fault-seed'],
    delay: values.delay,
    split: values.split,
    dropAfter: values['drop-after'],
    resetAfter: values['reset-after'],
    inject: values.inject,
    duplicateEvents: values['duplicate-events'],
    reorderEvents: values['reorder-events'],
    stall: values.stall,
  };
  const given = Object.entries(spec).some(([key, value]) => key !== 'seed' && value !== undefined);
  return given ? spec : undefined;
}
