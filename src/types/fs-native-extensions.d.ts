declare module 'fs-native-extensions' {
  interface LockOptions {
    shared?: boolean;
  }
  const fsx: {
    tryLock(fd: number, opts?: LockOptions): boolean;
    waitForLock(fd: number, opts?: LockOptions): Promise<void>;
    unlock(fd: number): void;
  };
  export default fsx;
}
