// Calendar-checked, so 2024-02-30 is refused though its shape is right.
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// A timestamp must say its offset; a bare local time is ambiguous across services.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function validDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** YYYY-MM-DD, or an ISO 8601 timestamp with seconds optional and a Z or ±HH:MM offset. */
export function isIsoDate(value: string): boolean {
  const date = DATE.exec(value);
  if (date) return validDay(Number(date[1]), Number(date[2]), Number(date[3]));
  const ts = TIMESTAMP.exec(value);
  if (!ts) return false;
  const [, y, mo, d, h, mi, s, oh, om] = ts;
  return (
    validDay(Number(y), Number(mo), Number(d)) &&
    Number(h) <= 23 && Number(mi) <= 59 && Number(s ?? 0) <= 59 &&
    Number(oh ?? 0) <= 23 && Number(om ?? 0) <= 59
  );
}
