"""The layers as a checked contract: no import cycles anywhere (function-level imports included).

The layer order itself is import-linter's contract in `.importlinter` (run by `make test`).
"""

from __future__ import annotations

import grimp


def _cycles() -> list[list[str]]:
    graph = grimp.build_graph("issuer_portal", "provisioning", "tokens")
    edges = {
        module: sorted(graph.find_modules_directly_imported_by(module))
        for module in sorted(graph.modules)
    }
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges.get(module, []):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_no_module_takes_part_in_an_import_cycle():
    assert _cycles() == []


def test_the_test_fakes_fail_closed(tmp_path):
    """A request a fake has no answer for fails the test; it never passes as a silent 200."""
    import pytest
    import urllib3

    from tests.fakes import Answer, FakeServer, UnexpectedRequest

    def only_search(request):
        if request.path != "/search":
            raise LookupError(request.path)
        return Answer(body={"tokens": []})

    server = FakeServer(answer=only_search).start()
    http = urllib3.PoolManager()
    assert http.request("POST", f"{server.url}/search").status == 200
    assert http.request("POST", f"{server.url}/delete").status == 500
    with pytest.raises(UnexpectedRequest, match="/delete"):
        server.stop()
    with pytest.raises(TypeError):
        FakeServer()  # no default answer


def test_each_app_migrations_change_only_what_that_app_owns():
    """Schema operations are per app by construction (foreign keys only point at other apps);
    data migrations load only their own app's models, and only the accounts app, which owns the
    staff roles, creates groups."""
    import re
    from pathlib import Path

    from django.apps import apps

    ours = [
        config
        for config in apps.get_app_configs()
        if config.name.split(".")[0] in {"issuer_portal", "provisioning", "tokens"}
    ]
    checked = 0
    for config in ours:
        for migration in sorted((Path(config.path) / "migrations").glob("0*.py")):
            source = migration.read_text()
            named = set(re.findall(r"""get_model\(\s*["'](\w+)["']""", source))
            allowed = (
                {config.label, "auth", "contenttypes"}
                if config.label == "accounts"
                else {config.label}
            )
            assert named <= allowed, f"{migration}: models of {sorted(named - allowed)}"
            checked += 1
    assert checked >= 6
    assert "Group" not in "".join(
        m.read_text()
        for config in ours
        if config.label != "accounts"
        for m in (Path(config.path) / "migrations").glob("0*.py")
    )
