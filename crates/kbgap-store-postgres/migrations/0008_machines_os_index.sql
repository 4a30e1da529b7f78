-- No query reads machines by OS (servers hold the fleet in memory and filter there), while
-- every report rewrote this index: one index entry fewer per stored report.
DROP INDEX IF EXISTS machines_os;
