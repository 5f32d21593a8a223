export { SimError, isSimError } from './errors.js'
export type { SimErrorCode } from './errors.js'

export { createRandom, hashUnit } from './random.js'
export type { Random } from './random.js'

export { dayType, easterSunday, isNationalHoliday, legalOffset, season, toLegalTime } from './profiles/legal-time.js'
export type { DayType, LegalTime, Season } from './profiles/legal-time.js'
export { G0_TABLE, H0_TABLE } from './profiles/tables.js'
export type { HourlyShape, ProfileTable } from './profiles/tables.js'
export { createStandardProfile, h0DynamisationFactor } from './profiles/standard.js'
export type { PowerProfile, StandardProfileName, StandardProfileOptions } from './profiles/standard.js'
export { clearSkyShare, createPvProfile, sinSolarElevation } from './profiles/pv.js'
export type { PvProfileOptions } from './profiles/pv.js'

export { SML_SIM_QUIRKS, isSmlSimQuirk } from './sml/quirks.js'
export type { SmlSimQuirk, SmlSimQuirkInfo } from './sml/quirks.js'
export { SML_OBIS, createSmlMeter } from './sml/meter.js'
export type { SmlEmission, SmlMeter, SmlMeterOptions, SmlMeterValues } from './sml/meter.js'

export { WMBUS_DEVICE_TYPES, createWmbusMeter } from './wmbus/meter.js'
export type { WmbusEmission, WmbusMeter, WmbusMeterKind, WmbusMeterOptions, WmbusMeterValues, WmbusSecurityMode } from './wmbus/meter.js'
export { heatDemandW, outdoorTemperatureC, waterFlowLph } from './wmbus/models.js'

export { SimulatorConfig, SmlMeterConfig, WmbusMeterConfig, parseSimulatorConfig, parseSmlMeterConfig, parseWmbusMeterConfig } from './config.js'
export type { SimulatorConfigInput } from './config.js'
export { createSimulator, createSmlMeterFromConfig, createWmbusMeterFromConfig } from './io/simulator.js'
export type { Simulator, SimulatorDeps, SimulatorSent } from './io/simulator.js'
export type { Transport } from './io/transports.js'

export { NtpServerConfig, createNtpServer, encodeNtpReply, parseNtpServerConfig } from './ntp/server.js'
export type { NtpRequestEvent, NtpServer, NtpServerConfigInput, NtpServerDeps } from './ntp/server.js'

export { ClsDeviceConfig, createClsDevice, parseClsDeviceConfig } from './cls/device.js'
export type { ClsDevice, ClsDeviceConfigInput, ClsDeviceDeps, ClsDeviceEvent, ClsDeviceStatus } from './cls/device.js'
export { answerCommand, createLineFramer, powerOf, CLS_DEVICE_MAX_LINE_BYTES } from './cls/protocol.js'
export type { ClsDeviceAnswer, ClsDeviceErrorCode, ClsDeviceMode, ClsDeviceRules, ClsDeviceState } from './cls/protocol.js'
