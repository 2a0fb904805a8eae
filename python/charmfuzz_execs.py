"""The commands a charm runs in its workload containers, read from its code.

A sidecar charm runs its workload's programs through Pebble (`container.exec([...])`,
`ops.pebble.Client.exec`). charmfuzz has no workload image, so `charmfuzz.toml` says what
each prints (`[[target.exec]]`). To tell the user which to script before the first run,
`charmfuzz spec` reads the charm's Python with `ast` and lists every `.exec(...)` call with
the command's words as far as the code spells them out: a list or tuple of string
literals, `"a b".split()` or `shlex.split("a b")`. A command built at run time is listed
with the words that are literal up to the first that is not, and marked partial.

Usage: python3 charmfuzz_execs.py DIR...  (prints one JSON object per call site)
"""

import ast
import json
import pathlib
import shlex
import sys


def literal(node):
    """The string a node spells out, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def command_words(node):
    """(words, complete): the literal words of a command expression."""
    if isinstance(node, (ast.List, ast.Tuple)):
        words = []
        for elt in node.elts:
            word = literal(elt)
            if word is None:
                return words, False
            words.append(word)
        return words, True
    if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "split":
            text = literal(func.value)
            if text is not None and not node.args:
                return text.split(), True
            is_shlex = isinstance(func.value, ast.Name) and func.value.id == "shlex"
            if is_shlex and node.args and literal(node.args[0]) is not None:
                try:
                    return shlex.split(literal(node.args[0])), True
                except ValueError:
                    return [], False
    return [], False


def exec_calls(tree):
    """Every `<something>.exec(command, ...)` call: the builtin `exec("code")` is a bare
    name and is not one."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "exec":
            continue
        command = node.args[0] if node.args else None
        for kw in node.keywords:
            if kw.arg == "command":
                command = kw.value
        if command is None or literal(command) is not None:
            continue
        words, complete = command_words(command)
        yield node.lineno, words, complete


def main(dirs):
    for top in dirs:
        root = pathlib.Path(top)
        for sub in ("src", "lib"):
            for path in sorted((root / sub).rglob("*.py")):
                try:
                    tree = ast.parse(path.read_bytes(), filename=str(path))
                except (SyntaxError, ValueError, OSError) as e:
                    print(json.dumps({"file": str(path.relative_to(root)), "error": str(e)}))
                    continue
                for line, words, complete in sorted(exec_calls(tree), key=lambda c: c[0]):
                    print(
                        json.dumps(
                            {
                                "file": str(path.relative_to(root)),
                                "line": line,
                                "command": words,
                                "complete": complete,
                            }
                        )
                    )


if __name__ == "__main__":
    main(sys.argv[1:])
