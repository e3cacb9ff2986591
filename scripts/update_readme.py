"""Rewrite the syllabus table in README.md from mmcourse.syllabus (run after adding a lesson).

    python scripts/update_readme.py

tests/test_readme.py fails when the README's table and the files on disk disagree.
"""

from pathlib import Path

from mmcourse import syllabus

BEGIN, END = "<!-- syllabus:begin -->", "<!-- syllabus:end -->"

if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    readme = root / "README.md"
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{syllabus.markdown_table(root)}\n{END}{tail}")
    print(f"updated {readme}")
