//! Transforms a collector applies to an observation before keeping it, to the form a check
//! required (pseudonymised, binned, aggregated): part C of issue 20 fills this module.
