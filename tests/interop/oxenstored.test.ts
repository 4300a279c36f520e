import {
  oxenstoredAvailable,
  startRealXenstored,
  type XenInstall,
  xenInstall,
} from '../support/real-xenstored.ts';
import { describeClientInterop } from './client-interop-suite.ts';

// oxenstored is a second, optional reference: it needs a mount namespace, which CI may lack.
describeClientInterop(
  'the OCaml oxenstored',
  () => startRealXenstored(xenInstall as XenInstall, 'oxenstored'),
  !oxenstoredAvailable,
);
