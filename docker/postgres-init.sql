-- One database per service: no service can read another's tables.
CREATE DATABASE privgraph_identity;
CREATE DATABASE privgraph_pii;
CREATE DATABASE privgraph_pii_keys;
CREATE DATABASE privgraph_consent;
CREATE DATABASE privgraph_audit;
