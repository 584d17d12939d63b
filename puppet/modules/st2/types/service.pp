# @summary The appliance's services: one systemd unit, and one switch in st2::services, each.
type St2::Service = Enum[
  'st2actionrunner',
  'st2api',
  'st2auth',
  'st2garbagecollector',
  'st2notifier',
  'st2rulesengine',
  'st2scheduler',
  'st2sensorcontainer',
  'st2stream',
  'st2timersengine',
  'st2workflowengine',
]
