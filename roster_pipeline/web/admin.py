"""The System page's admin work: Test Connection, the system settings, and adding and
removing districts and operators.

Each goes through the core API (``checks``, ``districts``) as its `roster`
command does; the console adds who may do it and the audit line. A new
district's password is returned once, for the page that shows it once.
"""

from __future__ import annotations

from roster_pipeline import checks, districts, hostkeys, operators, system
from roster_pipeline.errors import ConflictError
from roster_pipeline.home import Home
from roster_pipeline.operators import Login, Role, audit, require
from roster_pipeline.web.models import ActionResult, CheckView, NewDistrict


def test_connection(home: Home, login: Login) -> list[CheckView]:
    """`roster system test`: each part the deployment needs, ok or why not."""
    require(login.role, Role.OPERATOR, "testing the connection")
    found = [CheckView(name=c.name, result=c.result, detail=c.detail) for c in checks.run_all(home)]
    failed = [c.name for c in found if c.result == "fail"]
    audit(home, login.operator, "system_test", failed=",".join(failed))
    return found


def add_district(home: Home, login: Login, slug: str, name: str, spec: str) -> NewDistrict:
    """`roster district add`: the account and what its admin types into PowerSchool."""
    require(login.role, Role.ADMIN, "adding a district")
    hostkeys.ensure(home.folder("hostkeys"))
    done = districts.add_district(home, slug.strip(), name.strip(), spec)
    audit(home, login.operator, "district_add", district=done.district.slug, spec=spec)
    info = districts.connection_info(home.settings, done.district, done.password)
    return NewDistrict(
        district=info["district"],
        name=info["name"],
        spec=info["spec"],
        host=str(info["host"]),
        port=int(info["port"]),
        username=info["username"],
        password=done.password or "",
        host_key_fingerprints=[
            f"{f['algorithm']} {f['fingerprint']}" for f in info["host_key_fingerprints"]
        ],
        warning=districts.unreachable_host(str(info["host"])) or "",
    )


def remove_district(home: Home, login: Login, slug: str, confirm: str) -> ActionResult:
    """`roster district remove` without --purge: the account goes, its data stays.

    ``confirm`` must repeat the slug, as a typed confirmation: nothing else on
    the page says which district a stray click would remove.
    """
    require(login.role, Role.ADMIN, "removing a district")
    if confirm.strip() != slug:
        raise ConflictError(f"type the district's slug ({slug}) to confirm its removal")
    home.store.district(slug)  # a missing district is a 404, before anything is done
    districts.remove_district(home, slug, purge=False)
    audit(home, login.operator, "district_remove", district=slug)
    message = f"district {slug} removed; its files, batches and loaded rows are kept"
    return ActionResult(target=slug, action="remove", status="removed", message=message)


def set_system_value(home: Home, login: Login, key: str, value: str) -> ActionResult:
    """`roster system set KEY VALUE`: stored for every machine, recorded with who did it."""
    require(login.role, Role.ADMIN, "changing a system setting")
    stored = system.set_value(home, key.strip(), value.strip(), by=login.operator)
    audit(home, login.operator, "system_set", key=key)
    shown = system.shown_value(key, stored)
    return ActionResult(target=key, action="set", status="set", message=f"{key} = {shown}")


def add_operator(home: Home, login: Login, name: str, role: str) -> dict[str, str]:
    """`roster operator add`: the new account, with its password shown once."""
    require(login.role, Role.ADMIN, "adding an operator")
    row, password = operators.add_operator(home, name, Role.parse(role))
    audit(home, login.operator, "operator_add", name=row.name, role=row.role)
    return {"name": row.name, "role": row.role, "password": password}


def remove_operator(home: Home, login: Login, name: str) -> None:
    """`roster operator remove`."""
    require(login.role, Role.ADMIN, "removing an operator")
    operators.remove_operator(home, name)
    audit(home, login.operator, "operator_remove", name=name)
