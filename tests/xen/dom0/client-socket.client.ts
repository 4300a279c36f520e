// The client suite against the real xenstored through its unix socket (see client-suite.ts).
import { describeDom0ClientSuite } from './client-suite.ts';

describeDom0ClientSuite('socket');
