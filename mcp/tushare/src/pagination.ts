/** Limit/offset pagination for the /warehouse routes. Pure. */
import { z } from "zod";

export const MAX_PAGE = 1000;

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
};

export interface Page<T> {
  rows: T[];
  total: number;
  limit: number;
  offset: number;
  /** Offset of the next page, or null on the last one. */
  next_offset: number | null;
}

export function page<T>(rows: T[], total: number, limit: number, offset: number): Page<T> {
  const next = offset + rows.length;
  return { rows, total, limit, offset, next_offset: rows.length > 0 && next < total ? next : null };
}
