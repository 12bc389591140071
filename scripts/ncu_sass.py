"""Nsight Compute's SASS page (ncu -i REPORT --page source --csv --print-source sass), as the scripts
that summarize it read it: the table's header row and the rows after it, plain or gzipped."""
import csv
import gzip


def read_sass_table(path: str, columns: tuple) -> tuple:
    """(header, rows) of the SASS table in `path` (.gz read as gzip): the first row holding every name in
    `columns`, and the rows after it. ValueError naming the columns where no row holds them all, or the
    path of a gzip cut short."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", newline="") as file:
            rows = list(csv.reader(file))
    except EOFError as error:  # a gzip cut short: the callers name ValueErrors, not this
        raise ValueError(f"{path}: {error}") from error
    header_at = next((i for i, row in enumerate(rows) if all(column in row for column in columns)), None)
    if header_at is None:
        quoted = [f"'{column}'" for column in columns]
        named = " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
        raise ValueError(f"{path}: no SASS table with {named} columns "
                         "(ncu -i REPORT --page source --csv --print-source sass)")
    return rows[header_at], rows[header_at + 1:]
