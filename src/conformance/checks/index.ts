import type { Check } from '../check.ts';
import { controlChecks } from './control.ts';
import { directoryPartChecks } from './directory-part.ts';
import { domainChecks } from './domains.ts';
import { pathChecks } from './paths.ts';
import { permissionChecks } from './permissions.ts';
import { quotaChecks } from './quotas.ts';
import { transactionChecks } from './transactions.ts';
import { treeChecks } from './tree.ts';
import { watchChecks } from './watches.ts';
import { wireChecks } from './wire.ts';

/** Every check, area by area, in report order. */
export const CATALOGUE: readonly Check[] = [
  ...wireChecks,
  ...pathChecks,
  ...treeChecks,
  ...permissionChecks,
  ...watchChecks,
  ...transactionChecks,
  ...domainChecks,
  ...quotaChecks,
  ...directoryPartChecks,
  ...controlChecks,
];
