-- grain: one row per center

with

centers as (

    select * from staging.stg_centers

)

select * from centers
