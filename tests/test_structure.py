"""The package's shape: no import cycles between its modules, and thin stages."""

from __future__ import annotations

import grimp

from mindshare.layout import STAGES

from stage_project import REPO

STAGE_LINES = 90  # "tens of lines": a stage reads settings, calls the library, writes files, logs its run


def test_no_module_imports_itself_round_a_cycle():
    graph = grimp.build_graph("mindshare")
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "\n".join(cycles)


def test_stages_are_thin():
    sizes = {stage: len((REPO / f"src/mindshare/stages/{stage}.py").read_text().splitlines()) for stage in STAGES}
    assert sizes and all(lines <= STAGE_LINES for lines in sizes.values()), sizes
