import { BlockError } from './errors.ts';

/**
 * Virtual device numbers (`virtual-device`, the device id of a vbd), as Xen's
 * `docs/misc/vbd-interface.txt` defines them for `xvd` disks: `202 << 8 | disk << 4 | partition`
 * for the first 16 disks, `1 << 28 | disk << 8 | partition` beyond. Linux's blkfront names the
 * guest's device from it: 51712 is `xvda`, 51728 `xvdb`.
 */

const XVD_MAJOR = 202;
const EXTENDED = 1 << 28;

/** The device number of `xvd<letters>[partition]` (`xvdb` → 51728), or of a decimal number. */
export function parseVirtualDevice(name: string): number {
  if (/^\d{1,10}$/.test(name)) return Number(name);
  const match = /^xvd([a-z]{1,3})(\d{0,3})$/.exec(name);
  if (!match)
    throw new BlockError('EINVAL', `${JSON.stringify(name)} is neither xvdX nor a number`);
  // Letters count as in a spreadsheet: a … z, aa … zz, aaa ….
  let disk = 0;
  for (const letter of match[1] as string) disk = disk * 26 + (letter.charCodeAt(0) - 96);
  disk -= 1;
  const partition = Number(match[2] || 0);
  if (disk < 16 && partition < 16) return (XVD_MAJOR << 8) | (disk << 4) | partition;
  if (partition >= 256 || disk >= 1 << 20) {
    throw new BlockError('EINVAL', `${name} is outside the extended range`);
  }
  return EXTENDED | (disk << 8) | partition;
}

/** The guest's name for a device number (`51728` → `xvdb`); undefined outside the xvd ranges. */
export function virtualDeviceName(devid: number): string | undefined {
  let disk: number;
  let partition: number;
  if (devid & EXTENDED) {
    disk = (devid & ~EXTENDED) >>> 8;
    partition = devid & 0xff;
  } else if (devid >>> 8 === XVD_MAJOR) {
    disk = (devid >>> 4) & 0xf;
    partition = devid & 0xf;
  } else {
    return undefined;
  }
  let letters = '';
  for (let n = disk + 1; n > 0; n = Math.floor((n - 1) / 26)) {
    letters = String.fromCharCode(97 + ((n - 1) % 26)) + letters;
  }
  return `xvd${letters}${partition || ''}`;
}
