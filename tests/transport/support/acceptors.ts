import {
  type Acceptor,
  nativeAcceptor,
  nodeAcceptor,
} from '../../../src/xenstore/transport/socket-accept.ts';
import { nativeAddonReady } from '../../support/requirements.ts';

/** A way a listener accepts its connections, for suites that run through each. */
export interface AcceptWay {
  readonly name: string;
  readonly acceptor: Acceptor;
  /** False when this machine cannot run it (the native addon is not built). */
  readonly available: boolean;
}

/** Both ways: the native addon's (what `socketListener` uses when it loads), and `net.Server`. */
export const ACCEPT_WAYS: readonly AcceptWay[] = [
  { name: 'accepted natively', acceptor: nativeAcceptor, available: nativeAddonReady() },
  { name: 'accepted by net.Server', acceptor: nodeAcceptor, available: true },
];
