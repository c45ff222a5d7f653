#!/usr/bin/env python3
"""Hand-made mutation check of tenantsync's safety mechanisms.

Each mutant is one small, plausible mistake in the deletion guard, approvals,
adoption, quarantine or drift repair. The check applies one mutant at a time
to a copy of the working tree's file, runs the tests that guard that code,
and reports whether a test failed (the mutant is killed) or all passed (it
survived: a test is missing). The tree is restored after every mutant.

    make mutants                 # all mutants
    .ci/mutants.py guard-never-trips approve-all   # some, by name

It works on a copy of the tree (in a temporary directory), so that nothing
else building or testing the checkout sees a mutant. It is a development
tool (minutes of CPU), not part of `make test`.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(tempfile.gettempdir(), "tenantsync-mutants")
TESTS = ["./internal/engine/...", "./internal/scope/"]

# name, file, the text to replace (must occur exactly once), its replacement
MUTANTS = [
    ("guard-never-trips", "internal/engine/guard.go",
     "if count > t.threshold {", "if false {"),
    ("guard-off-by-one", "internal/engine/guard.go",
     "if count > t.threshold {", "if count > t.threshold+1 {"),
    ("guard-no-settle-delay", "internal/engine/guard.go",
     "if due := since.Add(t.delay); now.Before(due) {", "if due := since; now.Before(due) {"),
    ("guard-ignores-hold", "internal/engine/guard.go",
     "if now.Before(g.HoldUntil) {", "if false {"),
    ("guard-forgets-executed", "internal/engine/guard.go",
     "count := len(g.Pending) + len(g.Executed)", "count := len(g.Pending)"),
    ("guard-not-atomic", "internal/engine/guard.go",
     "if err == nil {\n\t\t\treturn d, nil\n\t\t}", "if err == nil || errors.Is(err, store.ErrConflict) {\n\t\t\treturn d, nil\n\t\t}"),
    ("approve-all", "internal/engine/deprovision.go",
     "\t\t\tchosen = append(chosen, d)\n", "\t\t\tchosen = append(staged[:0:0], staged...)\n\t\t\t_ = d\n"),
    ("approve-ignores-unknown", "internal/engine/deprovision.go",
     "if len(unknown) > 0 {", "if false {"),
    ("no-cancel-when-back", "internal/engine/provision.go",
     "case d.link.State == store.LinkPending || d.link.State == store.LinkStaged:", "case false:"),
    ("adopt-by-address", "internal/engine/provision.go",
     "func (e *Engine) provable(t *target, src *sourceUser, u directory.User, address string) (string, bool) {\n",
     "func (e *Engine) provable(t *target, src *sourceUser, u directory.User, address string) (string, bool) {\n\tif true {\n\t\treturn \"mutant\", true\n\t}\n"),
    ("adopt-foreign-anchor", "internal/engine/provision.go",
     "if a, _ := u.Attrs.String(t.anchorAttr); a != \"\" {\n\t\treturn fmt.Sprintf(\"carries another anchor",
     "if a, _ := u.Attrs.String(t.anchorAttr); a == \"mutant\" {\n\t\treturn fmt.Sprintf(\"carries another anchor"),
    ("adopt-any-identity", "internal/engine/provision.go",
     "if e.sourceIssuer(src, id.Issuer) {", "if true {"),
    ("no-pending-invitation-adoption", "internal/engine/provision.go",
     "if strings.EqualFold(state, \"PendingAcceptance\") {", "if false {"),
    ("deprovision-conflicting-user", "internal/engine/deprovision.go",
     "if d.linked && d.link.State == store.LinkConflict {", "if false {"),
    ("trust-invited-user", "internal/engine/provision.go",
     "func (e *Engine) checkInvited(ctx context.Context, t *target, src *sourceUser, id, address string) (*Conflict, error) {\n",
     "func (e *Engine) checkInvited(ctx context.Context, t *target, src *sourceUser, id, address string) (*Conflict, error) {\n\tif true {\n\t\treturn nil, nil\n\t}\n"),
    ("drift-reenables", "internal/engine/provision.go",
     "if reenable || !t.cfg.RepairsDrift() {", "if reenable && false || !t.cfg.RepairsDrift() {"),
    ("usertype-on-update", "internal/engine/sync.go",
     "if op == mapping.Create {\n\t\t\tattrs[\"userType\"]", "if true {\n\t\t\tattrs[\"userType\"]"),
    ("externals-in-scope", "internal/scope/evaluate.go",
     "if !s.includeExternal {\n\t\tif why := External(u); why != \"\" {", "if false {\n\t\tif why := External(u); why != \"\" {"),
    ("quarantine-compounds", "internal/engine/status.go",
     "\t\tif now.Before(st.QuarantinedUntil) {\n\t\t\treturn // another worker started it\n\t\t}\n",
     ""),
    ("per-user-403-quarantines", "internal/engine/status.go",
     "\twide := false\n\terr := t.api.Probe(ctx)", "\twide := true\n\terr := t.api.Probe(ctx)"),
    ("full-pass-recorded-in-quarantine", "internal/engine/reconcile.go",
     "if len(skipped) > 0 {", "if false {"),
    ("cancel-not-persisted", "internal/engine/deprovision.go",
     "\td.link.State = store.LinkActive\n\tstored, err := e.putLink(ctx, d.link)\n\tif err != nil {\n\t\treturn err\n\t}\n\td.link = stored\n\td.act.cancelled = what",
     "\td.link.State = store.LinkActive\n\td.act.cancelled = what"),
]


def run_tests():
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-trimpath -buildvcs=false")
    env.setdefault("TENANTSYNC_TOOLS", os.path.join(SOURCE, ".tools"))
    start = time.time()
    p = subprocess.run(["go", "test", "-count=1", "-short", "-failfast", "-timeout", "10m"] + TESTS,
                       cwd=ROOT, env=env, capture_output=True, text=True)
    first = ""
    for line in (p.stdout + p.stderr).splitlines():
        if line.startswith("--- FAIL") or "build failed" in line or line.startswith("# "):
            first = line.strip()
            break
    return p.returncode == 0, first, time.time() - start


def copy_tree():
    shutil.rmtree(ROOT, ignore_errors=True)
    skip = {".git", ".tools", "bin", "dist", ".bench", "node_modules"}
    shutil.copytree(SOURCE, ROOT, ignore=lambda d, names: [n for n in names if n in skip])


def main(names):
    copy_tree()
    chosen = [m for m in MUTANTS if not names or m[0] in names]
    if names and len(chosen) != len(names):
        known = {m[0] for m in MUTANTS}
        sys.exit("unknown mutants: " + ", ".join(n for n in names if n not in known))
    ok, first, _ = run_tests()
    if not ok:
        sys.exit("the tests fail without any mutant: " + first)
    killed = 0
    for name, path, old, new in chosen:
        full = os.path.join(ROOT, path)
        with open(full) as f:
            src = f.read()
        if src.count(old) != 1:
            print(f"{name}: the text to mutate occurs {src.count(old)} times in {path}: update the mutant")
            continue
        try:
            with open(full, "w") as f:
                f.write(src.replace(old, new))
            passed, first, secs = run_tests()
        finally:
            with open(full, "w") as f:
                f.write(src)
        if passed:
            print(f"SURVIVED  {name:36} ({secs:.0f} s)")
        else:
            killed += 1
            print(f"killed    {name:36} ({secs:.0f} s) by {first}")
    print(f"\n{killed} of {len(chosen)} mutants killed")
    sys.exit(0 if killed == len(chosen) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
