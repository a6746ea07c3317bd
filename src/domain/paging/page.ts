/**
 * A page from `limit + 1` rows read in list order: the extra row only says that more follow,
 * so `next_cursor` is null exactly on the last page.
 */
export function cutPage<T>(rows: T[], limit: number, cursorAfter: (last: T) => string): { items: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, limit);
  return { items, next_cursor: cursorAfter(items[items.length - 1]!) };
}
