"""The Parquet lake: an incremental export of the store's observations (Hive layout, one partition per
city and UTC date) and the AQI job over it on Spark or DuckDB. See docs/lake.md."""
