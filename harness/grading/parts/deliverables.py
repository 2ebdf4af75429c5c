"""The three deliverables the handout asks for, checked as a TA would before reading them.

    backpropagation.ipynb, gradient_descent.ipynb   present; run (every code cell has an execution count
                                                    or outputs; another order is a note); the course's test cells show
                                                    their passing banners (backpropagation only)
    the report                                      a PDF, readable, not a notebook export, with answers
                                                    (a)-(g) and a division-of-labour paragraph found
    README.txt                                      naming the other files, when there are any

inspect(folder) reads only data (JSON, PDF) and runs in the submission's sandbox, in a child process
of its own with a time limit (harness.grading.sandbox.worker), so that a broken or hostile PDF can cost only
that child. The grader reads its result with decode(): a few bounded fields.
"""

import json
import os
import re

KEY = "deliverables"  # its frame's key, beside the parts'
NOTEBOOKS = ("backpropagation.ipynb", "gradient_descent.ipynb")
MAX_NOTEBOOK_BYTES = 64 * 2**20
MAX_PDF_BYTES = 64 * 2**20
MAX_PAGES = 60
TEMPLATE_PLACEHOLDER = "Replace this"  # the student version's report template says it where an answer goes
HEAD_CHARACTERS = 2000  # the report's first words, where the authors stand (matched against the group's names)
IGNORED = {".ipynb_checkpoints", "__pycache__", ".git", "__MACOSX", ".DS_Store"}
COURSE_TEST_CALL = re.compile(r"\bmain_test\s*\(")
PASSED_BANNER = "ALL TEST PASSED"
PROMPT = re.compile(r"(?m)^\s*(?:In|Out)\s*\[\s*\d*\s*\]\s*:")
DIVISION_OF_LABOUR = re.compile(r"division\s+of\s+(?:the\s+)?(?:labou?r|work)|contribut|distribution\s+of\s+(?:the\s+)?work|"
                                r"split\s+the\s+work|work(?:ed)?\s+(?:on\s+it\s+)?together|responsible\s+for|both\s+(?:authors|of\s+us)|"
                                r"each\s+of\s+us|pair\s+programming|we\s+(?:both|each)\b", re.IGNORECASE)
EXPORT_WORDS = ("nbconvert", "jupyter", "ipynb")


def _answer(letter):
    """(a), a), a., a:, Question a, Task a, at a line's start or in parentheses anywhere."""
    return re.compile(rf"\({letter}\)|^\s*(?:question|task|part|oppgave)?\s*{letter}\s*[\).:]", re.IGNORECASE | re.MULTILINE)


ANSWERS = {letter: _answer(letter) for letter in "abcdefg"}


def notebook_facts(path):
    """{"present", "run", "why", "tests": [passing, total]} of one notebook file."""
    if not os.path.isfile(path) or os.path.islink(path):
        return {"present": False, "run": False, "why": "not submitted", "tests": [0, 0]}
    if os.path.getsize(path) > MAX_NOTEBOOK_BYTES:
        return {"present": True, "run": False, "why": "larger than the grader reads", "tests": [0, 0]}
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            cells = [c for c in json.load(file)["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return {"present": True, "run": False, "why": "not a valid notebook", "tests": [0, 0]}
    source = lambda c: "".join(c.get("source", [])) if isinstance(c.get("source"), list) else str(c.get("source", ""))
    code = [c for c in cells if source(c).strip()]
    counts = [c.get("execution_count") for c in code]
    outputs = [c.get("outputs") or [] for c in code]
    # A cell ran when it has an execution count or outputs (a def shows no output; a notebook saved by
    # another front end may keep outputs without counts). The order it ran in is a note, never "not run".
    never = [c for c, n, o in zip(code, counts, outputs) if n is None and not o]
    ran = [n for n in counts if isinstance(n, int)]
    why, note = "", ""
    if not code:
        why = "has no code"
    elif never:
        why = f"{len(never)} of {len(code)} code cells never ran"
    elif not any(outputs):
        why = "no cell shows an output"
    if not why and (ran != sorted(ran) or len(set(ran)) != len(ran)):
        note = "its cells ran in another order than they stand (run it top to bottom once before handing in)"
    tests = [c for c in code if COURSE_TEST_CALL.search(source(c)) and not source(c).lstrip().startswith("def ")]
    passing = sum(PASSED_BANNER in json.dumps(c.get("outputs") or []) for c in tests)
    return {"present": True, "run": not why, "why": why, "note": note, "tests": [passing, len(tests)]}


def _pdf_text(path):
    """(text of the first pages, number of pages, metadata words) of a PDF; raises on a broken one."""
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)
    pages = len(reader.pages)
    text = "\n".join((page.extract_text() or "") for page in reader.pages[:MAX_PAGES])
    metadata = reader.metadata or {}
    words = " ".join(str(metadata.get(key, "")) for key in ("/Creator", "/Producer", "/Title")).lower()
    return text[:500_000], pages, words


def report_facts(folder, files):
    """{"found", "file", "readable", "pages", "export", "answers", "labour", "why"} of the report."""
    pdfs = [f for f in files if f.lower().endswith(".pdf") and os.path.getsize(os.path.join(folder, f)) <= MAX_PDF_BYTES]
    if not pdfs:
        return {"found": False, "why": "no PDF report in the submission"}
    pdfs.sort(key=lambda f: ("report" not in f.lower(), os.path.basename(f).split(".")[0] in ("backpropagation", "gradient_descent"),
                             f.count(os.sep), f))
    name = pdfs[0]
    try:
        text, pages, words = _pdf_text(os.path.join(folder, name))
    except Exception as error:  # pypdf's errors, and any a hostile file provokes
        return {"found": True, "file": name, "readable": False, "why": f"cannot be read as a PDF ({type(error).__name__})"}
    if len(text.strip()) < 200:
        return {"found": True, "file": name, "readable": False, "pages": pages, "why": "holds (almost) no text: a scan or an image?"}
    export = (len(PROMPT.findall(text)) >= 3 or any(word in words for word in EXPORT_WORDS)
              or os.path.basename(name).rsplit(".", 1)[0] in ("backpropagation", "gradient_descent"))
    return {"found": True, "file": name, "readable": True, "pages": pages, "export": export, "head": text[:HEAD_CHARACTERS],
            "template": TEMPLATE_PLACEHOLDER in " ".join(text.split()),
            "answers": [letter for letter, pattern in ANSWERS.items() if pattern.search(text)],
            "labour": bool(DIVISION_OF_LABOUR.search(text)), "why": ""}


def readme_facts(folder, files):
    """{"needed", "present", "unnamed"}: other files than the notebooks and the report, named in README.txt?"""
    readme = next((f for f in files if os.path.basename(f).lower() in ("readme.txt", "readme.md", "readme")), None)
    others = [f for f in files if f not in NOTEBOOKS and not f.lower().endswith(".pdf") and f != readme]
    if not others:
        return {"needed": False, "present": readme is not None, "unnamed": []}
    text = ""
    if readme is not None and os.path.getsize(os.path.join(folder, readme)) < 1_000_000:
        with open(os.path.join(folder, readme), encoding="utf-8", errors="replace") as file:
            text = file.read()
    unnamed = [f for f in others if os.path.basename(f) not in text and f.split(os.sep)[0] not in text]
    return {"needed": True, "present": readme is not None, "unnamed": unnamed[:20]}


def submitted_files(folder):
    """Paths below folder (relative), without hidden and tool-made ones; links are not followed."""
    found = []
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(f for f in folders if f not in IGNORED and not f.startswith("."))
        for name in sorted(names):
            if name not in IGNORED and not name.startswith("."):
                found.append(os.path.relpath(os.path.join(root, name), folder))
        if len(found) > 2000:
            break
    return found


def inspect(folder):
    """The deliverables' facts (JSON-able) of a submission's folder."""
    files = submitted_files(folder)
    return {"notebooks": {name: notebook_facts(os.path.join(folder, name)) for name in NOTEBOOKS},
            "report": report_facts(folder, files), "readme": readme_facts(folder, files)}


# --- in the grader ----------------------------------------------------------------------------------------

def decode(data):
    """The facts as inspect() made them, with every field checked and bounded; ValueError if malformed."""
    from harness.grading.sandbox import protocol

    data = protocol.expect_dict(data, "deliverables")
    notebooks = protocol.expect_dict(data.get("notebooks"), "notebooks")
    clean = {"notebooks": {}, "report": {}, "readme": {}}
    for name in NOTEBOOKS:
        facts = protocol.expect_dict(notebooks.get(name), name)
        tests = protocol.expect_list(facts.get("tests", [0, 0]), 2, "tests")
        clean["notebooks"][name] = {"present": facts.get("present") is True, "run": facts.get("run") is True,
                                    "why": protocol.text(facts.get("why", ""), "why")[:200],
                                    "note": protocol.text(facts.get("note", ""), "note")[:200],
                                    "tests": [protocol.expect_int(n, 0, 10_000, "tests") for n in tests] if len(tests) == 2 else [0, 0]}
    report = protocol.expect_dict(data.get("report"), "report")
    clean["report"] = {"found": report.get("found") is True, "readable": report.get("readable") is True,
                       "template": report.get("template") is True,
                       "export": report.get("export") is True, "labour": report.get("labour") is True,
                       "file": protocol.text(report.get("file", ""), "file")[:200],
                       "pages": protocol.expect_int(report.get("pages", 0), 0, 10**6, "pages"),
                       "answers": sorted({a for a in protocol.expect_list(report.get("answers", []), 7, "answers") if a in ANSWERS}),
                       "why": protocol.text(report.get("why", ""), "why")[:200],
                       "head": protocol.text(report.get("head", ""), "head")[:HEAD_CHARACTERS]}
    readme = protocol.expect_dict(data.get("readme"), "readme")
    clean["readme"] = {"needed": readme.get("needed") is True, "present": readme.get("present") is True,
                       "unnamed": [protocol.text(f, "file")[:200] for f in protocol.expect_list(readme.get("unnamed", []), 20, "unnamed")]}
    return clean
