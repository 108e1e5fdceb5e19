#!/bin/sh
# Runs once, when the influxdb:2 container initialises an empty data volume (docker-entrypoint-initdb.d),
# after the org, bucket and admin token exist. It maps the InfluxDB 1.x database/retention policy
# "netpoll/autogen" to the bucket, so Grafana's InfluxQL datasource (and any 1.x client) can query it.
set -eu
db="${NETPOLL_INFLUXQL_DB:-netpoll}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-}"
if [ -z "$bucket_id" ]; then
    bucket_id="$(influx bucket list --org "$DOCKER_INFLUXDB_INIT_ORG" --name "$DOCKER_INFLUXDB_INIT_BUCKET" \
        --hide-headers | cut -f1)"
fi
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" --bucket-id "$bucket_id" --db "$db" --rp autogen --default
echo "netpoll: InfluxQL database $db/autogen -> bucket $DOCKER_INFLUXDB_INIT_BUCKET ($bucket_id)"
