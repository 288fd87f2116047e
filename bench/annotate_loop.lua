-- wrk script: one simulated annotator per wrk thread (run with -t N -c N), each repeating
-- POST /api/projects/{id}/next/ + POST /api/assignments/{id}/judgement/ on its keep-alive
-- connection. Used by bench/bench_annotate.py; wrk is C, so the load generator takes little of
-- the CPU it is measuring.
--
-- wrk -t N -c N -d 15s -s bench/annotate_loop.lua http://127.0.0.1:PORT -- PROJECT_ID NONCE TOKEN...
-- (No think time here: with a delay() function wrk stalled some requests for about a second.)

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("index", counter)
   table.insert(threads, thread)
end

function init(args)
   project_id = args[1]
   nonce = args[2]
   token = args[2 + index]
   state = "next"
   assignment_id = nil
   body = nil
   n = 0
   cycles = 0
   errors = 0
   first_error = ""
   headers = { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
end

function request()
   if state == "next" then
      return wrk.format("POST", "/api/projects/" .. project_id .. "/next/", headers, "")
   end
   return wrk.format("POST", "/api/assignments/" .. assignment_id .. "/judgement/", headers, body)
end

local function fail(status, text)
   errors = errors + 1
   if first_error == "" then
      first_error = state .. " " .. status .. ": " .. string.sub(text or "", 1, 200)
   end
   state = "next"
end

function response(status, headers, text)
   if state == "next" then
      if status ~= 200 then return fail(status, text) end
      assignment_id = string.match(text, '"assignment":{"id":(%d+)')
      local responses = string.find(text, '"responses":[', 1, true)
      local ids = {}
      for id in string.gmatch(string.sub(text, responses), '{"id":(%d+),"text":') do
         table.insert(ids, id)
      end
      if not assignment_id or #ids < 2 then return fail(status, text) end
      n = n + 1
      body = string.format('{"ranking":[[%s],[%s]],"strength":2,"client_id":"%s-%d-%d"}',
                           ids[1], ids[2], nonce, index, n)
      state = "submit"
   else
      if status ~= 201 then return fail(status, text) end
      cycles = cycles + 1
      state = "next"
   end
end

function done(summary, latency, requests)
   local total_cycles, total_errors, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      total_cycles = total_cycles + thread:get("cycles")
      total_errors = total_errors + thread:get("errors")
      if first == "" then first = thread:get("first_error") end
   end
   io.write(string.format(
      'RESULT {"cycles":%d,"requests":%d,"duration_us":%d,"errors":%d,"socket_errors":%d,' ..
      '"p50_us":%d,"p95_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,"first_error":"%s"}\n',
      total_cycles, summary.requests, summary.duration, total_errors,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
      string.gsub(first, '[^%w%s%.:,_%-]', '')))
end
