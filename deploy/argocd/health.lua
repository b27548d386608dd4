-- Argo CD health of admin.corti.app Customer and CustomerUser (one script for both kinds).
--
-- Healthy      Ready is True for the current generation.
-- Suspended    reconciliation is paused (the admin.corti.app/paused annotation), or observe-only
--              with no remote object to observe.
-- Progressing  not reconciled yet, or not this generation yet, or on its way (Creating, Updating,
--              Deleting, waiting for its Customer, the Admin API briefly unavailable).
-- Degraded     a person must act: credentials missing or refused, a forbidden or invalid request,
--              a bad password, another resource that claims the same remote object, or a bug in
--              the operator (Internal).
--
-- Argo CD runs this with gopher-lua (Lua 5.1) and only the base and table libraries: no string.*.

local progressing_reasons = {
  Creating = true,
  Updating = true,
  Deleting = true,
  CustomerNotReady = true,
  RemoteUnavailable = true,
}

local degraded_reasons = {
  CredentialsNotFound = true,
  CredentialsRejected = true,
  Forbidden = true,
  InvalidSpec = true,
  InvalidPassword = true,
  Conflict = true,
  Internal = true,
}

local function ready_condition(o)
  if o.status == nil or o.status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(o.status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition.reason ~= nil then
    return condition.reason
  end
  return fallback
end

local hs = {}
local ready = ready_condition(obj)

if ready == nil then
  hs.status = "Progressing"
  if obj.metadata.deletionTimestamp ~= nil then
    hs.message = "Being deleted"
  else
    hs.message = "Waiting for the operator to reconcile"
  end
  return hs
end

-- Paused keeps whatever Ready said before; Argo CD's word for it is Suspended.
if ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(ready, "Reconciliation is paused")
  return hs
end

-- Observe-only (managementPolicy Observe, or --dry-run) with no remote object to observe: the
-- operator will not create one, so this is neither progress nor a fault; Suspended says so.
if ready.reason == "Observed" and ready.status ~= "True" then
  hs.status = "Suspended"
  hs.message = describe(ready, "Observed only")
  return hs
end

local generation = obj.metadata.generation
local observed = ready.observedGeneration
if observed == nil and obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if generation ~= nil and observed ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if degraded_reasons[ready.reason] then
  hs.status = "Degraded"
elseif progressing_reasons[ready.reason] then
  hs.status = "Progressing"
elseif ready.status == "False" then
  -- A reason this script does not know yet: Ready=False is not healthy, so say so.
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = describe(ready, "Not ready")
return hs
