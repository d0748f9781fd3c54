"""The layout's rules, checked on the source: each job in one place, so that the next variant, page or backend lands in
one place. Session state behind ui/state.py's accessors; no import circle inside ui/; no training in a page; no
environment variable in the app that the README does not document (a bench hook among them); variants and pages
named in one list each."""

import ast
from pathlib import Path

from cvae_core.models import VARIANTS
from tests.conftest import ROOT
from ui.frame import PAGES

APP = [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]
CORE = sorted((ROOT / "cvae_core").rglob("*.py"))


def tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_session_state_is_touched_only_behind_ui_states_accessors():
    found = [
        where(path, node)
        for path in APP
        if path.name != "state.py" or path.parent.name != "ui"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Attribute) and node.attr == "session_state"
    ]
    assert not found, found


def ui_imports() -> dict[str, set[str]]:
    """ui module -> the ui modules it imports, at the top or inside a function."""
    graph = {}
    for path in sorted((ROOT / "ui").glob("*.py")):
        me = path.stem
        graph[me] = set()
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    graph[me].add(node.module.split(".")[0])
                else:
                    graph[me] |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ui."):
                graph[me].add(node.module.split(".")[1])
    return {m: {d for d in deps if d != "__init__" and d != m and d in graph} for m, deps in graph.items() if m != "__init__"}


def test_no_import_circle_inside_ui():
    graph = ui_imports()

    def cycle_from(start, node, seen):
        for dep in graph.get(node, ()):
            if dep == start:
                return [*seen, dep]
            if dep not in seen:
                found = cycle_from(start, dep, [*seen, dep])
                if found:
                    return found
        return None

    circles = [cycle for module in graph if (cycle := cycle_from(module, module, [module]))]
    assert not circles, circles


def core_imports(path: Path, root: Path = ROOT) -> set[str]:
    """The cvae_core modules (dotted) a cvae_core file under `root` imports, at the top or inside a function."""
    package = ".".join(path.relative_to(root).parent.parts)
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "cvae_core"}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] == "cvae_core":  # each name as module.name: a sub-module's layer is its own
                found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


# cvae_core's layers, read from its folders (the README's layout): the modules at the top and models/ are the maths;
# storage/ and training/ are layers of their own; serving/ and experiments/ are hosts, which use them all, as are the
# two entry points at the top (the command line).
FOLDERS = {"storage": "storage", "training": "training", "serving": "host", "experiments": "host"}
ENTRY_POINTS = {"cli", "__main__"}


def layer(module: str) -> str:
    """A cvae_core module's layer: its folder's, or the maths for the modules at the top (but the entry points)."""
    parts = module.split(".")[1:]
    if not parts:
        return "maths"
    if parts[0] in FOLDERS:
        return FOLDERS[parts[0]]
    return "host" if parts[0] in ENTRY_POINTS else "maths"


def test_cvae_cores_layers_import_only_downwards():
    """The maths imports neither training/ nor storage/; storage/ knows nothing of training; training/ (but the process
    that hosts it) saves nothing and runs no experiment: each layer can be read, tested and replaced without the ones
    above it."""
    allowed = {"maths": {"maths"}, "storage": {"maths", "storage"}, "training": {"maths", "training"}}
    found = []
    for path in CORE:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mine = layer(module)
        if mine != "host":
            found += [f"{module} ({mine}) imports {dep} ({layer(dep)})" for dep in core_imports(path) if layer(dep) not in allowed[mine]]
    assert not found, found
    assert "cvae_core.training.engine.Trainer" in core_imports(ROOT / "cvae_core" / "training" / "stages.py")  # the walk sees imports


def test_the_layer_check_sees_every_form_of_import(tmp_path):
    """The forms an import can take, in a maths module: each is found, and found in the layer it reaches."""
    maths = tmp_path / "cvae_core" / "metrics.py"
    maths.parent.mkdir()
    maths.write_text("import cvae_core.training.engine\nfrom cvae_core import storage\nfrom . import training\nfrom .serving import host\n")
    found = core_imports(maths, root=tmp_path)
    assert found == {"cvae_core.training.engine", "cvae_core.storage", "cvae_core.training", "cvae_core.serving.host"}
    assert [layer(m) for m in sorted(found)] == ["host", "storage", "training", "training"]


TRAINING = {"Trainer", "run_plan", "train_to_end", "train_selecting", "quadrants", "semisupervised", "classification", "train_m1",
            "train_classifier", "run_to_end"}  # fmt: skip


def test_no_page_trains():
    """Pages arrange widgets and plots; training happens in the training service (ui.training)."""
    found = [
        where(path, node)
        for path in sorted((ROOT / "pages").glob("*.py"))
        for node in ast.walk(tree(path))
        if (isinstance(node, ast.Name) and node.id in TRAINING) or (isinstance(node, ast.Attribute) and node.attr in TRAINING)
    ]
    assert not found, found


def test_every_environment_variable_the_app_reads_is_documented():
    readme = (ROOT / "README.md").read_text()
    names = {
        node.value
        for path in [*CORE, *APP]
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("CVAE_") and node.value.isupper()
    }
    assert names, "no variable found: the scan is broken"
    assert not {name for name in names if name not in readme}, "read by the app and not in the README"


def named_in_a_list(names: set[str], paths) -> list[str]:
    """Literal lists, tuples, sets and dict keys that name two or more of `names`."""
    out = []
    for path in paths:
        for node in ast.walk(tree(path)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts if isinstance(node, ast.List | ast.Tuple | ast.Set) else []
            if len({i.value for i in items if isinstance(i, ast.Constant) and i.value in names}) >= 2:
                out.append(where(path, node))
    return out


def test_variants_are_listed_once_and_named_nowhere_else_in_a_check():
    """A variant is its model file, its registration (cvae_core/models) and its card (cvae_core/cards.py): no other
    table lists variants, and no code outside cvae_core/models compares a variant's name (capabilities say what it can do)."""
    outside = [p for p in [*CORE, *APP] if "models" not in p.relative_to(ROOT).parts and p.name != "cards.py"]
    assert not named_in_a_list(set(VARIANTS), outside)
    compared = [
        where(path, node)
        for path in outside
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Compare)
        and any(isinstance(side, ast.Constant) and side.value in VARIANTS for side in [node.left, *node.comparators])
    ]
    assert not compared, compared


def test_pages_are_listed_once():
    """A page is its file, its entry in ui.frame.PAGES and its translations: no other list (the tests' and the bench's
    included) names the pages, by file, by address or by title. (pages/7_Follow.py is reached by a shared link only.)"""
    files = {p.file for p in PAGES if p.key != "home"}
    assert files == {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}  # every page file is in the list
    addresses = {p.address.lstrip("/") for p in PAGES if p.key != "home"}
    titles = {p.title for p in PAGES}
    others = [
        p for p in [*CORE, *APP, *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").glob("*.py"))] if p.name != "frame.py"
    ]
    assert not named_in_a_list(files | addresses | titles, others)


# torch's calls that draw from its one global generator unless given one, and the layers that draw from it inside
GLOBAL_DRAWS = {"randn", "rand", "randint", "randperm", "bernoulli", "multinomial", "normal", "poisson"}
TENSOR_DRAWS = {"bernoulli_", "normal_", "uniform_", "random_", "exponential_", "cauchy_", "geometric_", "log_normal_"}
DROPOUTS = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"}
DROPOUTS |= {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
ALWAYS_GLOBAL = {"manual_seed", "seed", "randn_like", "rand_like", "randint_like", "set_rng_state", *DROPOUTS}
SAMPLERS = {"sample", "rsample", "sample_n"}  # torch.distributions: the global generator, no way to pass one
TORCH = ("torch", "nn", "F", "torch.nn", "torch.nn.functional", "torch.random")


def global_draws(path: Path) -> list[int]:
    """Calls in `path` that draw from (or seed) torch's global generator: a visitor's run or figure would then depend on
    what strangers draw in the same process. Initial weights (nn.init, inside a build) are the one kind allowed. Their
    line numbers."""
    found, module = [], tree(path)
    from_torch = {  # names imported from torch itself (from torch import randn)
        alias.asname or alias.name
        for node in ast.walk(module)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch"
        for alias in node.names
    }
    for node in ast.walk(module):
        if not isinstance(node, ast.Call):
            continue
        given = any(k.arg == "generator" and not (isinstance(k.value, ast.Constant) and k.value.value is None) for k in node.keywords)
        if isinstance(node.func, ast.Name):
            name, owner = node.func.id, "torch" if node.func.id in from_torch else ""
        elif isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, ast.unparse(node.func.value)
        else:
            continue
        if owner.endswith("init") or "Generator(" in owner:
            continue  # initial weights; a generator's own seed
        if (
            (name in ALWAYS_GLOBAL and owner in TORCH)
            or (name in GLOBAL_DRAWS and owner == "torch" and not given)
            or (name in TENSOR_DRAWS and not given)
            or (name in SAMPLERS and isinstance(node.func, ast.Attribute))
        ):
            found.append(node.lineno)
    return sorted(found)


def test_nothing_but_cvae_cores_noise_module_draws_from_torchs_global_generator(tmp_path):
    """Runs of many visitors train in one process, and pages of many sessions measure in another: every draw goes
    through cvae_core/noise.py (a run's or a seed's own generator), every build through its lock."""
    found = [f"{path.relative_to(ROOT)}:{line}" for path in [*CORE, *APP] if path.name != "noise.py" for line in global_draws(path)]
    assert not found, found
    # and the check sees each kind it looks for
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from torch import randn\n"
        "torch.manual_seed(0)\nx = torch.randn(3)\ny = torch.randn_like(x)\nx.bernoulli_(0.5)\nnn.Dropout(0.1)\n"
        "F.dropout2d(x)\nrandn(3)\nq.rsample()\nz = torch.randn(3, generator=None)\n"
        "ok = torch.randn(3, generator=g)\nnn.init.normal_(w)\ng = torch.Generator().manual_seed(1)\nDropout(0.2)\n"
    )
    assert global_draws(probe) == [2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_every_image_the_app_shows_has_a_text_alternative():
    """A screen reader hears what an image shows: every st.image call (any `.image(...)`) and every ui.show_digits call
    in the app passes `alt`, and show_digits cannot be called without one (no default that says only "digits")."""
    import inspect

    from ui.frame import show_digits

    assert inspect.signature(show_digits).parameters["alt"].default is inspect.Parameter.empty
    calls = [
        (path, node)
        for path in APP
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in ("image", "show_digits")
    ]  # fmt: skip
    assert len(calls) >= 10, "the scan finds no image: it is broken"
    missing = [where(path, node) for path, node in calls if "alt" not in {k.arg for k in node.keywords}]
    assert not missing, missing
