"""The allocation schemes, one module each; each registers itself in
:data:`jcas.parts.registry.SCHEMES_REGISTRY` (its name, legend label, options with their
``allocation`` config keys and defaults, requirements on the parts, job family).

The modules are light: a scheme's solver is imported when the scheme runs (``sca`` needs
Clarabel). A new scheme is a new module here (``docs/extending.md``).
"""
