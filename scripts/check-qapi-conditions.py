#!/usr/bin/env python3
"""Check that the series' QAPI module has no definition that only
conditional commands and events use without being conditional itself.

    check-qapi-conditions.py QEMU_SOURCE_DIR [MODULE]

On a host where a condition is false (e.g. CONFIG_POSIX on Windows) such
a type would still be generated, listed by query-qmp-schema and never
used.  The check loads QEMU's whole schema with QEMU's own QAPI parser,
takes every unconditional command and event as a root, follows type
references through unconditional definitions, members and branches, and
reports each unconditional definition of MODULE (vm-introspection.json
by default) that no root reaches.  It also reports an unconditional
definition that refers to a conditional one: that fails to compile
where the condition is false.  It exits 1 if it reports anything.

An unconditional event only sent by conditional C code is a root like
any other event: the schema cannot tell, so such an event needs its
'if' by hand (PMEMMAP_LAYOUT_CHANGED is sent by POSIX-only pmemmap.c).
"""
import os
import sys


def unconditional(ent):
    ifcond = getattr(ent, 'ifcond', None)
    return ifcond is None or not ifcond.is_present()


def references(ent):
    """The types @ent refers to, except through conditional members."""
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
    from qapi.error import QAPIError
    from qapi.schema import (QAPISchema, QAPISchemaCommand,
                             QAPISchemaEvent)

    try:
        schema = QAPISchema(os.path.join(src, 'qapi', 'qapi-schema.json'))
    except QAPIError as err:
        sys.exit('check-qapi-conditions: %s' % err)
    # The visitor's callbacks changed their arguments between QEMU 7.2
    # and 10.2; the entity list and its attributes did not.
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
        if unconditional(ent):
            todo.extend(references(ent))

    mine = [e for e in entities
            if e.info and os.path.basename(e.info.fname) == module]
    ours = [e for e in mine if not e.is_implicit() and unconditional(e)]
    orphans = [e for e in ours if e.name not in reached]
    for e in orphans:
        print('%s: %s is unconditional, but only conditional commands or '
              'events use it: give it their \'if\'' % (e.info.fname, e.name))
    broken = [(e, r) for e in mine if unconditional(e)
              for r in references(e) if not unconditional(r)]
    for e, r in broken:
        print('%s: %s is unconditional, but refers to %s, which is not'
              % (e.info.fname, e.name, r.name))
    print('check-qapi-conditions: %d unconditional definitions of %s, '
          '%d used by nothing unconditional, %d using conditional ones'
          % (len(ours), module, len(orphans), len(broken)))
    sys.exit(1 if orphans or broken else 0)


if __name__ == '__main__':
    main()
