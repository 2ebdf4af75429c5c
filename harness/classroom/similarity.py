"""Copying across a class and against earlier and public solutions, by copydetect (winnowing
fingerprints, as MOSS does; HTML reports with the shared code highlighted).

The handout: "it is not allowed to copy-paste from online sources nor from other students' projects".
What is compared is the code a submission's notebooks hold (code cells, magics and shell lines left
out), each submission one file; the code the course hands out (the template: the student version's
notebooks, or the teacher's --template) is boilerplate and never counts; the members of one group
are never flagged against each other. Copydetect tokenizes first (names become V, F, O; strings S),
so renamed variables, reordered functions and changed comments do not hide a copy.

Submitted text is read here in a child process with a time and memory limit (compare_in_child runs
this module), as the source check is: a hostile notebook costs that child only.

Code found in more than half of the class's submissions (and in at least five) counts as handed out
too, whether or not a template was given (as MOSS's -m): a course that hands out other notebooks than
this project's still has its boilerplate left out.

THRESHOLD, measured on tests/fixtures/independent.py: six right solutions written independently
share at most 0.17 of their code pairwise (15 pairs); copies of one of them disguised by renamed
variables (1.0), reordered functions and cells (0.90), changed comments (1.0), and all three at once
(0.90) share 0.90 or more; two students handing in the template untouched share nothing that counts.
0.6 sits between, with room on both sides.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

THRESHOLD = 0.6
NOISE_TOKENS = 25         # copydetect's noise threshold (characters of filtered code): shorter matches are noise
MAX_CODE_CHARACTERS = 300_000  # of one submission's notebooks; more is cut
SECONDS = 600
COMMON_AT_LEAST = 5       # a passage in this many submissions at least (and in more than half) is handed-out code:
#                           in a smaller class, three students sharing code are more likely three who copied
MEMORY = 4 * 2**30
NOTEBOOKS = ("backpropagation.ipynb", "gradient_descent.ipynb")


def notebook_code(path, limit=MAX_CODE_CHARACTERS):
    """The code cells of a notebook (or the text of a .py file), magics and shell lines left out; "" when unreadable."""
    try:
        if os.path.getsize(path) > 64 * 2**20:
            return ""
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
        if not str(path).endswith(".ipynb"):
            return text[:limit]
        cells = json.loads(text).get("cells", [])
    except (OSError, ValueError, AttributeError, RecursionError):
        return ""
    code = []
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            code.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return "\n\n".join(code)[:limit]


def folder_code(folder):
    """The code of a submission's two notebooks (handout names), in a fixed order."""
    return "\n\n".join(notebook_code(os.path.join(folder, name)) for name in NOTEBOOKS if os.path.isfile(os.path.join(folder, name)))


def corpus_files(folder):
    """Each notebook or .py file below folder (earlier years' submissions, public solutions), as (label, path)."""
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if name.endswith((".ipynb", ".py")):
                path = os.path.join(root, name)
                found.append((os.path.relpath(path, folder), path))
    return found


def common_fingerprints(fingerprints):
    """The fingerprints found in more than half of the class's submissions (and in at least COMMON_AT_LEAST):
    code the course handed out, or a passage everyone takes from the lectures, whatever the template
    given (MOSS's -m). fingerprints: [set of hashes] per submission."""
    from collections import Counter

    counts = Counter(h for hashes in fingerprints for h in hashes)
    needed = max(COMMON_AT_LEAST, len(fingerprints) // 2 + 1)
    return {h for h, n in counts.items() if n >= needed}


def _without(fingerprint, common):
    """A copydetect CodeFingerprint with the common fingerprints taken out, as its boilerplate would be."""
    from copydetect.utils import get_token_coverage

    fingerprint.hashes = fingerprint.hashes - common
    fingerprint.hash_idx = {h: i for h, i in fingerprint.hash_idx.items() if h not in common}
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, fingerprint.k, len(fingerprint.filtered_code))


def compare(entries, template, reference=None, threshold=THRESHOLD, partners=(), report=None, template_said=""):
    """{"pairs": [{"a", "b", "similarity", "tokens"}], "report": path or None, "common": n}: every pair of
    entries (and entry against a reference file) sharing more than threshold of either one's tokens.

    entries: [(key, folder)] of staged submissions; template: [code] handed out (boilerplate), and the
    code common to most of the class besides (common_fingerprints); reference: a folder of earlier or
    public solutions; partners: [(key, key)] never flagged; template_said: which template, for the report."""
    from copydetect import CopyDetector

    class ClassDetector(CopyDetector):
        """copydetect's detector, with the class's common code as boilerplate too."""
        common = set()

        def _preprocess_code(self, file_list):
            super()._preprocess_code(file_list)
            tests = [self.file_data[f] for f in self.test_files if f in self.file_data]
            self.common = common_fingerprints([f.hashes for f in tests]) if len(tests) >= COMMON_AT_LEAST else set()
            if self.common:
                for fingerprint in self.file_data.values():
                    _without(fingerprint, self.common)

    with tempfile.TemporaryDirectory(prefix="inf265-similarity-") as work:
        keys = {}
        for i, (key, folder) in enumerate(entries):
            path = os.path.join(work, "class", f"{i:05d}", "code.py")
            os.makedirs(os.path.dirname(path))
            with open(path, "w", encoding="utf-8") as file:
                file.write(folder_code(folder))
            keys[path] = key
        for i, code in enumerate(template):
            os.makedirs(os.path.join(work, "template", str(i)))
            with open(os.path.join(work, "template", str(i), "code.py"), "w", encoding="utf-8") as file:
                file.write(code)
        refs = [os.path.join(work, "class")]
        if reference:
            for i, (label, source) in enumerate(corpus_files(reference)):
                path = os.path.join(work, "reference", f"{i:05d}", "code.py")
                os.makedirs(os.path.dirname(path))
                with open(path, "w", encoding="utf-8") as file:
                    file.write(notebook_code(source))
                keys[path] = f"reference: {label}"
            refs.append(os.path.join(work, "reference"))
        os.makedirs(os.path.join(work, "template"), exist_ok=True)
        detector = ClassDetector(test_dirs=[os.path.join(work, "class")], ref_dirs=refs,
                                boilerplate_dirs=[os.path.join(work, "template")], extensions=["py"],
                                noise_t=NOISE_TOKENS, guarantee_t=NOISE_TOKENS, display_t=threshold, ignore_leaf=True,
                                autoopen=False, silent=True, out_file=report or os.path.join(work, "report.html"))
        if not detector.test_files:
            return {"pairs": [], "report": None, "common": 0}
        detector.run()
        never = {frozenset(pair) for pair in partners}
        pairs, seen = [], set()
        for i, test in enumerate(detector.test_files):
            for j, ref in enumerate(detector.ref_files):
                a, b = keys.get(test), keys.get(ref)
                similarity = detector.similarity_matrix[i, j] if len(detector.similarity_matrix) else None
                if a is None or b is None or similarity is None or similarity[0] < 0:
                    continue
                if frozenset((a, b)) in never:
                    detector.similarity_matrix[i, j] = -1  # nor in the HTML report
                    continue
                best = float(max(similarity))
                if best > threshold and frozenset((a, b)) not in seen:
                    seen.add(frozenset((a, b)))
                    pairs.append({"a": a, "b": b, "similarity": round(best, 3),
                                  "tokens": int(detector.token_overlap_matrix[i, j])})
        said = (f"Handed-out code, never counted: {template_said or 'the template given'}, and "
                f"{len(detector.common)} fingerprint(s) of code found in more than half of the {len(detector.test_files)} "
                "submissions (code the course hands out, whatever the template).")
        if report:
            _relabel(detector, keys)
            detector.generate_html_report()
            report = detector.conf.out_file  # copydetect adds .html where the name has none
            _say_in_report(report, said)
        pairs.sort(key=lambda pair: -pair["similarity"])
        return {"pairs": pairs, "report": report if report else None, "common": len(detector.common)}


def _say_in_report(report, text):
    """Put text at the top of copydetect's HTML report (which template was used)."""
    import html

    with open(report, encoding="utf-8") as file:
        page = file.read()
    match = re.search(r"<body[^>]*>", page)
    at = match.end() if match else 0
    with open(report, "w", encoding="utf-8") as file:
        file.write(page[:at] + f'\n<p class="handed-out">{html.escape(text)}</p>\n' + page[at:])


def closest(pairs):
    """{submission: (similarity, the other)} of each submission's most similar pair in pairs."""
    best = {}
    for pair in pairs:
        for one, other in ((pair["a"], pair["b"]), (pair["b"], pair["a"])):
            if pair["similarity"] > best.get(one, (0, ""))[0]:
                best[one] = (pair["similarity"], other)
    return best


def _relabel(detector, keys):
    """The HTML report names each file by its submission, not by the temporary path."""
    for files in (detector.test_files, detector.ref_files):
        for i, path in enumerate(files):
            label = re.sub(r"[^\w .:/-]", "_", keys.get(path, path))
            if path in detector.file_data:
                detector.file_data[label] = detector.file_data.pop(path)
            for pair in [p for p in detector.slice_matrix if path in p]:
                detector.slice_matrix[tuple(label if x == path else x for x in pair)] = detector.slice_matrix.pop(pair)
            files[i] = label


def compare_in_child(entries, template, reference=None, threshold=THRESHOLD, partners=(), report=None,
                     seconds=SECONDS, memory=MEMORY, template_said=""):
    """compare() in a child process limited to seconds and memory bytes; {"failed": why} when it could not."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    job = {"entries": [[key, os.fspath(folder)] for key, folder in entries], "template": list(template),
           "reference": os.fspath(reference) if reference else None, "threshold": threshold,
           "partners": [list(p) for p in partners], "report": os.fspath(report) if report else None,
           "template said": template_said}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(job, file)
    try:
        done = subprocess.run([sys.executable, "-m", "harness.classroom.similarity", file.name, str(memory)], cwd=root,
                              capture_output=True, timeout=seconds, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"failed": f"the comparison took more than {seconds} s"}
    finally:
        os.unlink(file.name)
    if done.returncode != 0:
        return {"failed": f"the comparison failed ({done.stderr.decode(errors='replace').strip().splitlines()[-1:]})"}
    return json.loads(done.stdout)


def _main(argv):
    import resource

    memory = int(argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    with open(argv[0]) as file:
        job = json.load(file)
    result = compare([tuple(e) for e in job["entries"]], job["template"], job["reference"], job["threshold"],
                     [tuple(p) for p in job["partners"]], job["report"], job.get("template said", ""))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
