// The client suite against the real xenstored through /dev/xen/xenbus (see client-suite.ts).
import { describeDom0ClientSuite } from './client-suite.ts';

describeDom0ClientSuite('device');
