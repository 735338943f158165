"""Migrations are frozen text: a store that applied one never sees a later edit of it.

The schema changes only by a new migration. Editing an applied migration (or letting it be
generated from the spec, which changes under it) makes stores differ by when they were created.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rosterlab import spec
from rosterlab.store import Store
from rosterlab.store.schema import migrations

# sha256 of each migration's SQL as applied. A new migration adds a line; none ever changes.
APPLIED = {
    1: "6335059c6ffa0a24ece17741a1dacad3e7d85dac3bca871845f0b8e4ad7820a7",
    2: "bf2b0ebd1cb856cac968762e596fdd7c4794dce28171ef7e7741f4f992949a9e",
    3: "d2c6f67582eb438adff65d68bd83d48c681856c2130a39c35a6a16f56c72325f",
    4: "01fbfe0bdd74525041a1df01c57c7d5b7b7d9dfb35d99b21744b39ba15785d13",
    5: "4cc6fb5e246d57337148dac4f720c23c68a251dd101e7386473d2bdaa16a7629",
    6: "44736bb943953749be547bea4b11593a9f2f0b88a02867675305266dda980eb6",
    7: "b9bc4035708abbaeb9369197d43c125fdf520c4929d3cccd743ed900fd0b15ab",
    8: "8b6ed60ca95f5a6e90c36f051b11003fd798371e5e17fbd10317a40a41a4efa3",
    9: "207aac5d0a3c1d980ffc51b9a8d2eea6e42976bde7e078e613b13f1783ba661f",
    10: "03fb3868996e943d1383a53a8b42613e9fae29f002076583268ded7d93b035db",
    11: "9ce82d655f2dc682f37f43a31e6744702fcbfa89d04669fe160ca0791415a8f3",
    12: "7fc5fbed13ebe48b5363ba1e31574b802592684dec2e5c168ea4e6cc43058506",
    13: "d8ce99f4153b5139469562667c6badca2ce718b9cf4a777f829fddf3805ce31a",
    14: "0422cec4909172c249804e8d2365ab1f742a993ca2482887ad59ab7aefc15177",
    15: "d5dcaee46f75e8e497aa4934cc67ba0327790e099574dcda037fdcdd2d9ad680",
    16: "733b1d23124d3e89040b844198f97047a16fa9ccd294388c93726233266120c7",
    17: "dc12e9e4f7d997637a91f7afb7e18070cf2f61111a7e901f6c6cdd0dd49d0598",
    18: "00ed3832f95f0e8eb7701124fb5dcbddfa4ed00e543fc6fb76ffc1cf84e41571",
}


def test_no_applied_migration_changes_and_versions_follow_one_another():
    texts = {version: sql for version, _, sql in migrations()}
    assert list(texts) == list(range(1, len(texts) + 1))
    changed = [
        version
        for version, digest in APPLIED.items()
        if hashlib.sha256(texts[version].encode()).hexdigest() != digest
    ]
    assert changed == []
    assert set(texts) == set(APPLIED)  # a new migration is pinned when it is added


def test_the_entity_tables_a_new_store_gets_have_the_spec_columns(tmp_path: Path):
    """A spec column added without a migration adding it to its table fails here."""
    with Store.open(tmp_path / "s.duckdb") as store:
        wrong = {}
        for entity in spec.ENTITIES.values():
            columns = [
                name
                for (name,) in store.rows(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "ORDER BY ordinal_position",
                    [entity.name],
                )
            ]
            expected = ["district", "key", "row_hash", "valid_from", "valid_to"]
            expected += [*entity.columns, "extra"]
            if columns != expected:
                wrong[entity.name] = columns
    assert wrong == {}
