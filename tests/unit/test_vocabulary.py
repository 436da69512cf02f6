"""Rule ids and state words are spelled once, in ``vocabulary.py``; everywhere else uses its enums.

The check reads every module's syntax tree and looks at string constants only: docstrings are
prose and skipped, SQL and templates live in separate files. Frozen migrations are history.
"""

from __future__ import annotations

import ast
from pathlib import Path

from payoutwatch.vocabulary import AlertState, Event, NotificationState, RuleId

SRC = Path(__file__).resolve().parents[2] / "src" / "payoutwatch"
RULE_IDS = {r.value for r in RuleId}
STATE_WORDS = {s.value for s in AlertState} | {s.value for s in NotificationState} | {Event.RESOLVED.value}
WORDS = RULE_IDS | STATE_WORDS

# Words that belong to another vocabulary than ours: an external service's own status values.
EXTERNAL_WORDS = {
    "sources/airflow.py": {"failed"},  # Airflow's DagRun state, mapped to an exit code
    "sources/stripe_records.py": {"failed"},  # Stripe's payout status
}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def literals(path: Path) -> list[tuple[int, str]]:
    """``(line, word)`` for each string constant in the module that is a rule id or a state word."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in WORDS
        and id(node) not in skip
    ]


def checked_modules() -> list[Path]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative == "vocabulary.py" or relative.startswith("store/migrations/versions/"):
            continue
        out.append(path)
    return out


def test_the_check_finds_a_literal_and_skips_docstrings(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""firing"""\n\ndef f(state):\n    """resolved"""\n    return state == "firing"\n')
    assert literals(module) == [(5, "firing")]


def test_no_rule_id_or_state_word_is_a_string_literal_outside_the_vocabulary() -> None:
    found = []
    for path in checked_modules():
        relative = path.relative_to(SRC).as_posix()
        allowed = EXTERNAL_WORDS.get(relative, set())
        found += [f"{relative}:{line}: {word!r}" for line, word in literals(path) if word not in allowed]
    assert found == [], "use the enums of payoutwatch.vocabulary instead:\n" + "\n".join(found)
