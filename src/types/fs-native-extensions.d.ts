declare module 'fs-native-extensions' {
  interface LockOptions {
    /** A shared (read) lock instead of an exclusive (write) one; needs only a readable fd. */
    shared?: boolean;
  }
  /**
   * The signature of fs-native-extensions' index.js: a byte range (offset, length; 0, 0 is the
   * whole file), then the options; the options may also come second or third.
   */
  interface RangeLock<R> {
    (fd: number, opts?: LockOptions): R;
    (fd: number, offset: number, opts?: LockOptions): R;
    (fd: number, offset: number, length: number, opts?: LockOptions): R;
  }
  const fsx: {
    tryLock: RangeLock<boolean>;
    waitForLock: RangeLock<Promise<void>>;
    unlock(fd: number, offset?: number, length?: number): void;
  };
  export default fsx;
}
