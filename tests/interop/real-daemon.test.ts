import { startRealXenstored, type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { describeClientInterop } from './client-interop-suite.ts';

describeClientInterop('the real C xenstored', () => startRealXenstored(xenInstall as XenInstall));
