#!/usr/bin/env python3
"""Check that the series' QAPI module has no definition that only
conditional commands and events use without being conditional itself.

    check-qapi-conditions.py QEMU_SOURCE_DIR [MODULE]

On a host where a condition is false (e.g. CONFIG_POSIX on Windows) such
a type would still be generated, listed by query-qmp-schema and never
used.  The check loads QEMU's whole schema with QEMU's own QAPI parser,
takes every unconditional command and event as a root, follows type
references (skipping conditional members and branches) and reports each
unconditional definition of MODULE (vm-introspection.json by default)
that no root reaches.  It exits 1 if there is one.
"""
import os
import sys


def unconditional(ent):
    ifcond = getattr(ent, 'ifcond', None)
    return ifcond is None or not ifcond.is_present()


def references(ent):
    """The types @ent refers to when all conditions are false."""
    refs = []
    for attr in ('arg_type', 'ret_type', 'element_type', 'base'):
        typ = getattr(ent, attr, None)
        if typ is not None:
            refs.append(typ)
    for m in getattr(ent, 'local_members', None) or []:
        if unconditional(m):
            refs.append(m.type)
    # 'variants' before QEMU 9.1, then 'branches' and 'alternatives'
    for attr in ('variants', 'branches', 'alternatives'):
        var = getattr(ent, attr, None)
        if var is None or isinstance(var, list):
            continue
        for v in var.variants:
            if unconditional(v):
                refs.append(v.type)
    return refs


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().split('\n\n')[1])
    src = sys.argv[1]
    module = sys.argv[2] if len(sys.argv) == 3 else 'vm-introspection.json'
    sys.path.insert(0, os.path.join(src, 'scripts'))
    # pylint: disable=import-outside-toplevel
    from qapi.schema import (QAPISchema, QAPISchemaCommand,
                             QAPISchemaEvent)

    schema = QAPISchema(os.path.join(src, 'qapi', 'qapi-schema.json'))
    entities = [e for e in schema._entity_list      # pylint: disable=W0212
                if getattr(e, 'name', None)]
    roots = [e for e in entities
             if isinstance(e, (QAPISchemaCommand, QAPISchemaEvent))
             and unconditional(e)]

    reached = set()
    todo = list(roots)
    while todo:
        ent = todo.pop()
        if ent.name in reached:
            continue
        reached.add(ent.name)
        todo.extend(references(ent))

    ours = [e for e in entities
            if e.info and os.path.basename(e.info.fname) == module
            and not e.is_implicit() and unconditional(e)]
    orphans = [e for e in ours if e.name not in reached]
    for e in orphans:
        print('%s: %s is unconditional, but only conditional commands or '
              'events use it: give it their \'if\'' % (e.info.fname, e.name))
    print('check-qapi-conditions: %d unconditional definitions of %s, '
          '%d used by nothing unconditional'
          % (len(ours), module, len(orphans)))
    sys.exit(1 if orphans else 0)


if __name__ == '__main__':
    main()
