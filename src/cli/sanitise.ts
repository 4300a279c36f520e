/**
 * The xenstore tools' escaping of possibly binary values: `read` and `ls` print values
 * sanitised, `write` unsanitises its arguments (unless `-R`). Both work on bytes, exactly as
 * `sanitise_value` and `unsanitise_value` in Xen's `xenstore_client.c`.
 */

/** Printable ASCII except backslash is kept; the rest becomes `\t`, `\n`, `\r`, `\\`, `\ooo` or `\xhh`. */
export function sanitiseValue(value: Uint8Array): string {
  let out = '';
  for (const byte of value) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x5c) {
      out += String.fromCharCode(byte);
      continue;
    }
    out += '\\';
    if (byte === 0x09) out += 't';
    else if (byte === 0x0a) out += 'n';
    else if (byte === 0x0d) out += 'r';
    else if (byte === 0x5c) out += '\\';
    else if (byte < 8) out += byte.toString(8).padStart(3, '0');
    else out += `x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

const isHex = (byte: number | undefined) =>
  byte !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(byte));
const isOctal = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x37;

/**
 * The inverse of {@link sanitiseValue} for a command-line argument. Unknown escapes keep the
 * escaped character, a lone trailing backslash becomes a nul byte (as the C loop writes one).
 */
export function unsanitiseValue(text: string): Buffer {
  const input = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let at = 0;
  while (at < input.length) {
    const byte = input[at++]!;
    if (byte !== 0x5c) {
      out.push(byte);
      continue;
    }
    const next = input[at++];
    switch (next) {
      case undefined:
        at--;
        out.push(0);
        break;
      case 0x74:
        out.push(0x09);
        break;
      case 0x6e:
        out.push(0x0a);
        break;
      case 0x72:
        out.push(0x0d);
        break;
      case 0x78: {
        let digits = '';
        while (digits.length < 2 && isHex(input[at])) digits += String.fromCharCode(input[at++]!);
        out.push(digits ? Number.parseInt(digits, 16) : 0x78);
        break;
      }
      default:
        if (isOctal(next)) {
          let digits = String.fromCharCode(next);
          while (digits.length < 3 && isOctal(input[at]))
            digits += String.fromCharCode(input[at++]!);
          out.push(Number.parseInt(digits, 8) & 0xff);
        } else {
          out.push(next);
        }
    }
  }
  return Buffer.from(out);
}
