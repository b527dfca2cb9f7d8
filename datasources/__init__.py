"""The access layer (seed §9.3): one module per source system with its event schema,
simulator and connectors. `datasources.registry` lists them."""
