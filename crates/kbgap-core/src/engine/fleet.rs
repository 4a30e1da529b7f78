//! Fleet aggregation: many machines grouped by patch state, each group evaluated once.
