// Types for xs-wire.mjs, the lane's dependency-free xenstore wire client (plain JavaScript so that it
// runs in a guest's initramfs without a TypeScript loader).
export declare const XS: Readonly<{
  CONTROL: 0;
  DIRECTORY: 1;
  READ: 2;
  GET_PERMS: 3;
  WATCH: 4;
  UNWATCH: 5;
  TRANSACTION_START: 6;
  TRANSACTION_END: 7;
  INTRODUCE: 8;
  RELEASE: 9;
  GET_DOMAIN_PATH: 10;
  WRITE: 11;
  MKDIR: 12;
  RM: 13;
  SET_PERMS: 14;
  WATCH_EVENT: 15;
  ERROR: 16;
}>;

export declare class XsError extends Error {
  readonly code: string;
  constructor(code: string, type: number, path?: string);
}

export interface WatchEvent {
  path: string;
  token: string;
}

export declare class XsConnection {
  static device(path?: string): XsConnection;
  static socket(path: string): Promise<XsConnection>;
  request(type: number, payload: Buffer, txId?: number, label?: string): Promise<Buffer>;
  read(path: string, tx?: number): Promise<string>;
  write(path: string, value: string, tx?: number): Promise<void>;
  mkdir(path: string, tx?: number): Promise<void>;
  rm(path: string, tx?: number): Promise<void>;
  directory(path: string, tx?: number): Promise<string[]>;
  getPerms(path: string, tx?: number): Promise<string[]>;
  setPerms(path: string, perms: string[], tx?: number): Promise<void>;
  getDomainPath(domid: number): Promise<string>;
  watch(path: string, token: string): Promise<void>;
  unwatch(path: string, token: string): Promise<void>;
  transactionStart(): Promise<number>;
  transactionEnd(tx: number, commit: boolean): Promise<void>;
  nextWatchEvent(): Promise<WatchEvent>;
  close(): void;
}
