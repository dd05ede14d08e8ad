-- grain: one row per client

with

clients as (

    select * from staging.stg_clients

)

select * from clients
