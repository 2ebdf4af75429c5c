"""The class list: Canvas's gradebook export (Grades > Export), its first five columns.

    Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment

"Student" is "Last, First"; "ID" is Canvas's user id, which its download names files by and its
gradebook import matches rows by. The second row is "Points Possible" (and older exports have a row of
posting policies); neither is a student. Read as Excel or Canvas writes it (harness.classroom.tables).
"""

from harness.classroom.quoting import listed
from harness.classroom.tables import Column, InputError, ids_lost_to_excel, read_table, user_id

ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
COLUMNS = [Column("Student", ("Student",)), Column("ID", ("ID",)), Column("SIS User ID", ("SIS User ID",), False),
           Column("SIS Login ID", ("SIS Login ID",), False), Column("Section", ("Section",), False)]
HINT = ": give Canvas's gradebook export (Grades > Export)"


def read_roster(path):
    """{Canvas user id: {column: value}} of Canvas's gradebook export; InputError, naming the file and
    the rows, when it is not one or an id is not a Canvas user id."""
    table = read_table(path, "The roster", COLUMNS, HINT)
    roster, bad, lost, twice = {}, [], [], []
    for row in table.rows:
        name, raw = row.cells["Student"], row.cells["ID"]
        if name.casefold().startswith("points possible") or not (raw or name):
            continue  # Canvas's Points Possible row, and the posting-policy row of older exports
        found = user_id(raw)
        if found is None:
            (lost if ids_lost_to_excel(raw) else bad).append(f"row {row.line} ({raw or 'no ID'})")
            continue
        if found in roster:
            twice.append(f"{found} (rows {roster[found]['_line']} and {row.line})")
            continue
        roster[found] = {**{c: row.cells.get(c, "") for c in ROSTER_COLUMNS}, "ID": found, "_line": row.line}
    if lost:
        raise InputError(f"The roster {table.path.name} has IDs that Excel turned into rounded numbers ({listed(lost)}): "
                         "export the roster from Canvas again and give it without opening it in Excel, or format the ID "
                         "column as Text before saving")
    if bad:
        raise InputError(f"The roster {table.path.name} has rows whose ID is not a Canvas user id ({listed(bad)}){HINT}")
    if twice:
        raise InputError(f"The roster {table.path.name} lists a student twice (ID {listed(twice)}): export it again from Canvas")
    for entry in roster.values():
        entry.pop("_line")
    return roster


def natural_name(name):
    """"Karlsen, Ida" -> "Ida Karlsen" (the roster's sortable name in the order a sentence uses); else as it is."""
    last, comma, first = str(name).partition(",")
    return f"{first.strip()} {last.strip()}" if comma and first.strip() and "," not in first else str(name).strip()
