//! Machine inventories: systeminfo (any language and encoding), hotfix lists, osquery results, kbgap JSON reports.
