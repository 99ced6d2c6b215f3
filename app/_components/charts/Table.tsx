"use client";
import type { ReactNode } from "react";
import { toCsv, type CsvCell } from "./csv";

export interface Column<T> {
  label: string;
  /** The CSV header when it differs from the label: the unit of the raw value (the table shows it formatted). */
  csvLabel?: string;
  /** The value exported to CSV (and shown, unless `render` is given). */
  value: (row: T) => CsvCell;
  render?: (row: T) => ReactNode;
  numeric?: boolean;
}

export function downloadCsv(filename: string, content: string) {
  const url = URL.createObjectURL(new Blob([content], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function CsvButton<T>({ filename, columns, rows }: { filename: string; columns: Column<T>[]; rows: T[] }) {
  return (
    <button type="button" className="btn btn-small" data-testid={`csv-${filename.replace(/\.csv$/, "")}`} onClick={() => downloadCsv(filename, toCsv(columns.map((c) => c.csvLabel ?? c.label), rows.map((r) => columns.map((c) => c.value(r)))))}>
      Export CSV
    </button>
  );
}

/** A plain, accessible table of rows; the same columns feed the CSV export. */
export function DataTable<T>({ columns, rows, caption, rowKey, testId, rowClass }: { columns: Column<T>[]; rows: T[]; caption: string; rowKey: (row: T) => string; testId?: string; rowClass?: (row: T) => string | undefined }) {
  return (
    <div className="scroll-x">
      <table className="table" data-testid={testId}>
        <caption className="hint" style={{ textAlign: "left" }}>
          {caption}
        </caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.label} scope="col" style={c.numeric ? { textAlign: "right" } : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} className={rowClass?.(row)}>
              {columns.map((c) => (
                <td key={c.label} style={c.numeric ? { textAlign: "right", fontVariantNumeric: "tabular-nums" } : undefined}>
                  {c.render ? c.render(row) : (c.value(row) ?? "—")}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
