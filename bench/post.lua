-- wrk script: POSTs the file named by $WRK_BODY with Content-Type: application/json.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(assert(os.getenv("WRK_BODY"), "set WRK_BODY to the body file"), "rb"))
wrk.body = f:read("*a")
f:close()
