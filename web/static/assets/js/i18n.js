// Every string of the UI, Simplified Chinese first, English second.
const STRINGS = {
  zh: {
    title: '雪亮工程 · 视频汇聚网关', phoneTitle: '雪亮工程 · 网格通', lang: 'English',
    username: '用户名', password: '密码', signin: '登录', logout: '退出', badLogin: '用户名或密码错误',
    tooMany: (s) => `登录失败次数过多，请 ${s} 秒后再试`, loginFailed: (c) => `登录失败 (${c})`,
    roles: { admin: '管理员', dispatcher: '指挥中心', grid_worker: '网格员', department: '职能部门', viewer: '只看视频' },
    // navigation
    wall: '视频墙', map: '地图', desk: '工单台', reports: '点评通报', health: '设备在线率',
    hr: { plot: '近30天每日在线率', nothingKnown: '无数据', offlineHours: (n) => `离线 ${n} 路·小时`, days30: '近30天在线率',
      cells: '下级网格', offlineNow: '当前离线摄像机（离线最久的在前）', today: '今日在线率', period30: '30天在线率', cameras: '摄像机',
      offlineN: '当前离线', since: '离线时间', down: '已离线', allOnline: '没有离线的摄像机', rankBy: '排名依据',
      byResolution: '办结率', byOnlineRate: '设备在线率', noMyOffline: '您的网格内没有离线的摄像机' },
    // camera tree and status
    filter: '搜索摄像机', grids: '网格', all: '全部', summary: (on, all) => `在线 ${on} / 共 ${all}`,
    state: { online: '在线', offline: '离线', connecting: '连接中', unknown: '未检测', stalled: '卡顿' },
    offlineWhy: { device_offline: '所属设备离线', channel_off: '设备目录显示通道关闭', timeout: '无响应（超时）', refused: '拒绝连接',
      unauthorized: '用户名或密码不对', not_found: '码流地址不存在', no_media: '无视频数据', frozen: '画面冻结' },
    sinceAt: (w) => `自 ${w}`,
    noCameras: '您的辖区内没有摄像机', empty: '拖入或点击摄像机', loading: '正在连接…', failed: '无法播放', retryIn: (s) => `${s} 秒后重试`,
    fps: '帧率', bitrate: '码率', viewers: '观看', codec: '编码', resolution: '分辨率', close: '关闭',
    // wall
    layouts: '布局', saveLayout: '保存布局', deleteLayout: '删除', layoutName: '布局名称', saved: '已保存',
    noLayout: '— 已存布局 —', tours: '轮巡', tourName: '轮巡名称', interval: '间隔(秒)', target: '位置',
    wholeWall: '整面墙', tileN: (n) => `第 ${n} 格`, startTour: '开始轮巡', stopTour: '停止轮巡', pickTwo: '至少选择两个摄像机',
    alarmTile: '报警窗口', firstFree: '第一个空闲窗口', alarms: '报警', noAlarms: '暂无报警', moreAlarms: (n) => `另有 ${n} 条较早的报警`, sound: '声音',
    ack: '确认', openCase: '打开工单', alarmOn: (cam) => `报警：${cam}`,
    // cases
    queue: '工单队列', newCase: '登记工单', states: '状态', anyState: '全部状态', escalation: '督办', anyLevel: '全部督办',
    category: '类别', anyCategory: '全部类别', source: '来源', anySource: '全部来源', from: '从', to: '至', grid: '网格', anyGrid: '全部网格',
    noCases: '没有工单', pickCase: '选择左侧工单查看', level: (n) => `督办${['', '一', '二', '三'][n] || n}级`,
    deadline: '时限', left: (t) => `剩余 ${t}`, overdue: (t) => `超时 ${t}`, assignee: '承办', reporter: '报告人',
    camera: '摄像机', media: '报警图片', photos: '现场照片', audit: '办理记录', actionsTitle: '办理',
    note: '说明', reason: '原因', rating: '评价(1–5)', pass: '核查通过', fail: '退回重办', extendDays: '延期(工作日)',
    assignTo: '派往', assignOther: '其他（填写）', submit: '提交', cancel: '取消', done: '已提交', needReason: '请填写原因',
    response: '响应率', resolutionRate: '办结率', satisfaction: '满意率', cases30: '近30天工单',
    titleF: '标题', description: '描述', priority: '优先级', limitDays: '时限(工作日)', place: '位置', lat: '纬度', lon: '经度',
    handling: '处置方式', immediate: '即办（已当场处置）', file: '申办（交中心派遣）', resolutionF: '处置结果', photosF: '照片',
    filed: '已登记', states_: {
      received: '待受理', registered: '已立案', dispatched: '已派遣', accepted: '已签收', in_progress: '办理中',
      verifying: '待核查', closed: '已办结', evaluated: '已评价', rejected: '不予受理', duplicate: '重复', returned: '已退回',
      extended: '已延期', suspended: '已挂起' },
    actions: { register: '受理立案', reject: '不予受理', dispatch: '派遣', accept: '签收', return: '退回', start: '开始办理',
      resolve: '办结', verify: '核查', reopen: '重新办理', evaluate: '评价', extend: '延期', suspend: '挂起',
      create: '登记', escalate: '督办', join: '合并', attach: '上传照片', mark_duplicate: '标记重复' },
    sources: { event: '视频报警', hotline: '12345热线', 'walk-in': '来访', 'grid-report': '网格上报', open311: '热线接口' },
    categories: { environment: '市容环境', public_order: '社会治安', device_fault: '设备故障', public_security: '公共安全',
      device_tamper: '设备遮挡', fire_safety: '消防安全', other: '其他' },
    cellRoles: { chief: '网格长', grid_worker: '网格员', police: '网格民警', law_enforcement: '城管执法', property: '物业',
      legal: '法律顾问', discipline: '纪检监督', maintainer: '设备运维' },
    departments: { police: '派出所', law_enforcement: '综合执法', property: '物业公司', legal: '司法所', housing: '住建' },
    // notifications
    notifications: '通知', noNotifications: '暂无通知',
    notify: { assignment: '新派单', escalation: '督办预警', overdue: '超时督办', evaluation: '评价结果', report: '新上报待受理', verification: '办结待核查',
      camera_back: '摄像机已恢复，请办结' },
    // reports
    period: '周期', day: '日点评', week: '周小结', month: '月通报', date: '日期', csv: '下载 CSV', rank: '排名',
    received: '受理', onTime: '按时办结', overdueN: '超时', escalated: '督办', topCategories: '主要类别',
    // map
    layersGrids: '网格', layersCameras: '摄像机', layersCases: '在办工单', noTiles: '未配置底图（离线）',
    // phone
    nearby: '附近', myCells: '我的网格', myOffline: '离线摄像机', myCases: '我的工单', report: '上报', locating: '正在定位…',
    noLocation: '无法获取位置', noNearby: '附近没有您可查看的摄像机', tapToPlay: '点击播放', back: '返回',
    noMyCases: '暂无待办工单', playing: '播放中', photoAdded: (n) => `已选 ${n} 张`, sent: '已提交',
    // what the gateway writes itself
    kinds: { offline: '摄像机离线', video_loss: '视频丢失', tamper: '视频遮挡', motion: '移动侦测', intrusion: '区域入侵', line_cross: '越界',
      loiter: '徘徊', crowd: '人员聚集', fire_smoke: '烟火', object_left: '物品遗留', io: '报警输入', storage_fault: '存储故障', storage_full: '录像存储已满',
      phone_alarm: '电话报警', sms_alarm: '短信报警', gps_alarm: 'GPS报警', manual_alarm: '人工报警', object_removed: '物品移除',
      retrograde: '逆行', flow_count: '流量统计报警', fast_motion: '快速移动', high_temperature: '设备高温', low_temperature: '设备低温',
      fan_fault: '风扇故障', device_alarm: '设备报警', video_alarm: '视频报警', fault: '设备故障', alarm: '报警' },
    autoTitle: (kind, cam) => `${kind}：${cam}`,
    autoDescription: (cam, kind, incident) => `摄像机「${cam}」报警（${kind}），事件 ${incident}`,
    notes: {
      opened_by_policy: (d) => `按处置策略自动开单：${t(`kinds.${d.kind}`)}`,
      fault_opened: (d) => `按处置策略自动开单：${t(`kinds.${d.kind}`)}超过 ${d.after_min} 分钟（${d.cameras} 路，自 ${clock(d.down_at)}）${d.reason ? `，原因：${t(`offlineWhy.${d.reason}`)}` : ''}`,
      camera_back: (d) => `摄像机已恢复在线：${clock(d.down_at)} 离线至 ${clock(d.back_at)}（${d.down_min} 分钟），请核实后办结`,
      incident_joined: (d) => `事件 ${d.incident}（摄像机 ${d.camera_name || d.camera}）并入本工单`,
      escalation_1: '督办一级：已用时限的80%', escalation_2: '督办二级：已超时', escalation_3: '督办三级：超时逾五个工作日',
      filed: (d) => `登记：${t(`sources.${d.source}`)}`, handled_on_spot: '即办：网格员当场处置并上报', filed_open311: '经 Open311 热线接口登记',
    },
    actors: { gateway: '网关（自动）', 'sla-clock': '督办时钟' },
    dur: { dh: (d, h) => `${d}天${h}小时`, hm: (h, m) => `${h}小时${m}分`, m: (m) => `${m}分钟` },
    // playback and evidence
    pb: { deviceAway: '暂时无法查询设备录像', deviceIncomplete: '设备录像列表未完整返回', deviceOnly: '此处仅设备存有录像（下方蓝色）',
      legendGateway: '中心录像', legendDevice: '设备录像',
      open: '回放', live: '直播', none: '此后无录像', failed: '录像无法播放', export: '导出', exportHint: '下载从当前时间起 5 分钟的 MP4',
      earlier: '向前', later: '向后', zoomIn: '放大时间轴', zoomOut: '缩小时间轴' },
    clips: '证据录像', clipFromDevice: '取自设备录像：', clipAsk: '截取片段', clipMinutes: (m) => `${m} 分钟`, clipNeedsStart: '请选择开始时间',
      clipAsked: '已提交，片段生成后列在此处', clipPlay: '播放证据录像', noClips: '暂无证据录像', download: '下载', sha256: 'SHA-256',
    gb: { device: (id) => `国标设备 ${id}`, gone: '已不在目录' },
    up: { title: '上级平台', registered: '已注册', registering: '注册中', failed: '注册失败', disabled: '已停用',
      keepalive: (at) => `心跳 ${at}`, streams: (n) => `上传 ${n} 路`, channels: (n) => `共享 ${n} 路` },
    ptz: { up: '上', down: '下', left: '左', right: '右', zoom_in: '放大', zoom_out: '缩小', failed: '云台控制失败' },
    clipStates: { pending: '等待录像完成', ready: '已保存', empty: '该时段无录像', failed: '制作失败', expired: '已过保存期' },
  },
  en: {
    title: 'Sharp Eyes · Video Gateway', phoneTitle: 'Sharp Eyes · Grid', lang: '中文',
    username: 'Username', password: 'Password', signin: 'Sign in', logout: 'Sign out', badLogin: 'Wrong username or password',
    tooMany: (s) => `Too many failed sign-ins; try again in ${s} s`, loginFailed: (c) => `Sign-in failed (${c})`,
    roles: { admin: 'admin', dispatcher: 'command centre', grid_worker: 'grid worker', department: 'department', viewer: 'viewer' },
    wall: 'Live wall', map: 'Map', desk: 'Case desk', reports: 'Reviews', health: 'Online rate',
    hr: { plot: 'Online rate per day, last 30 days', nothingKnown: 'nothing known', offlineHours: (n) => `${n} camera-hours offline`, days30: 'Online rate, last 30 days',
      cells: 'Cells below', offlineNow: 'Cameras offline now (longest first)', today: 'Online today', period30: 'Online, 30 days', cameras: 'Cameras',
      offlineN: 'Offline now', since: 'Offline since', down: 'Down for', allOnline: 'No camera is offline', rankBy: 'Rank by',
      byResolution: 'Resolution rate', byOnlineRate: 'Online rate', noMyOffline: 'No camera of your cells is offline' },
    filter: 'Search cameras', grids: 'Grids', all: 'All', summary: (on, all) => `${on} of ${all} online`,
    state: { online: 'online', offline: 'offline', connecting: 'connecting', unknown: 'not checked yet', stalled: 'stalled' },
    offlineWhy: { device_offline: 'its device is offline', channel_off: "its device's catalog says the channel is off", timeout: 'no answer (timeout)',
      refused: 'connection refused', unauthorized: 'its credentials are not accepted', not_found: 'no such stream', no_media: 'sends no video', frozen: 'picture frozen' },
    sinceAt: (w) => `since ${w}`,
    noCameras: 'No cameras in your jurisdiction', empty: 'Drop or click a camera', loading: 'Connecting…', failed: 'Cannot play', retryIn: (s) => `retry in ${s} s`,
    fps: 'fps', bitrate: 'bitrate', viewers: 'viewers', codec: 'codec', resolution: 'size', close: 'Close',
    layouts: 'Layout', saveLayout: 'Save layout', deleteLayout: 'Delete', layoutName: 'Layout name', saved: 'Saved',
    noLayout: '— saved layouts —', tours: 'Tours', tourName: 'Tour name', interval: 'Interval (s)', target: 'Where',
    wholeWall: 'Whole wall', tileN: (n) => `Tile ${n}`, startTour: 'Start tour', stopTour: 'Stop tour', pickTwo: 'Pick at least two cameras',
    alarmTile: 'Alarm tile', firstFree: 'First free tile', alarms: 'Alarms', noAlarms: 'No alarms', moreAlarms: (n) => `${n} older alarms not shown`, sound: 'Sound',
    ack: 'Acknowledge', openCase: 'Open case', alarmOn: (cam) => `Alarm: ${cam}`,
    queue: 'Queue', newCase: 'New case', states: 'State', anyState: 'Any state', escalation: 'Escalation', anyLevel: 'Any level',
    category: 'Category', anyCategory: 'Any category', source: 'Source', anySource: 'Any source', from: 'From', to: 'To', grid: 'Grid', anyGrid: 'Any grid',
    noCases: 'No cases', pickCase: 'Pick a case on the left', level: (n) => `Escalation ${n}`,
    deadline: 'Deadline', left: (t) => `${t} left`, overdue: (t) => `overdue ${t}`, assignee: 'Assignee', reporter: 'Reporter',
    camera: 'Camera', media: 'Alarm pictures', photos: 'Photos', audit: 'Audit trail', actionsTitle: 'Actions',
    note: 'Note', reason: 'Reason', rating: 'Rating (1–5)', pass: 'Passed', fail: 'Send back', extendDays: 'Extend (working days)',
    assignTo: 'Dispatch to', assignOther: 'Other (type it)', submit: 'Submit', cancel: 'Cancel', done: 'Done', needReason: 'Give a reason',
    response: 'Response', resolutionRate: 'Resolution', satisfaction: 'Satisfaction', cases30: 'Cases, 30 days',
    titleF: 'Title', description: 'Description', priority: 'Priority', limitDays: 'Limit (working days)', place: 'Place', lat: 'Latitude', lon: 'Longitude',
    handling: 'Handling', immediate: 'Handled on the spot (即办)', file: 'For the centre to dispatch (申办)', resolutionF: 'What was done', photosF: 'Photos',
    filed: 'Filed', states_: {
      received: 'received', registered: 'registered', dispatched: 'dispatched', accepted: 'accepted', in_progress: 'in progress',
      verifying: 'to verify', closed: 'closed', evaluated: 'evaluated', rejected: 'rejected', duplicate: 'duplicate', returned: 'returned',
      extended: 'extended', suspended: 'suspended' },
    actions: { register: 'Register', reject: 'Reject', dispatch: 'Dispatch', accept: 'Accept', return: 'Return', start: 'Start',
      resolve: 'Resolve', verify: 'Verify', reopen: 'Reopen', evaluate: 'Evaluate', extend: 'Extend', suspend: 'Suspend',
      create: 'Filed', escalate: 'Escalated', join: 'Joined', attach: 'Photos added', mark_duplicate: 'Duplicate' },
    sources: { event: 'Video alarm', hotline: '12345 hotline', 'walk-in': 'Walk-in', 'grid-report': 'Grid report', open311: 'Open311' },
    categories: { environment: 'Environment', public_order: 'Public order', device_fault: 'Device fault', public_security: 'Public security',
      device_tamper: 'Camera tampering', fire_safety: 'Fire safety', other: 'Other' },
    cellRoles: { chief: 'grid chief', grid_worker: 'grid worker', police: 'police officer', law_enforcement: 'law enforcement', property: 'property',
      legal: 'legal adviser', discipline: 'discipline', maintainer: 'camera maintenance' },
    departments: { police: 'Police station', law_enforcement: 'Law enforcement', property: 'Property company', legal: 'Legal office', housing: 'Housing' },
    notifications: 'Notifications', noNotifications: 'No notifications',
    notify: { assignment: 'Assigned to you', escalation: 'Escalation warning', overdue: 'Overdue', evaluation: 'Evaluated', report: 'New report to register', verification: 'Resolved, to verify',
      camera_back: 'Camera back: close the case' },
    period: 'Period', day: 'Daily', week: 'Weekly', month: 'Monthly', date: 'Date', csv: 'Download CSV', rank: 'Rank',
    received: 'Received', onTime: 'Closed on time', overdueN: 'Overdue', escalated: 'Escalated', topCategories: 'Top categories',
    layersGrids: 'Grids', layersCameras: 'Cameras', layersCases: 'Open cases', noTiles: 'No base map configured (offline)',
    nearby: 'Nearby', myCells: 'My cells', myOffline: 'Offline', myCases: 'My cases', report: 'Report', locating: 'Locating…',
    noLocation: 'Location unavailable', noNearby: 'No cameras you may watch nearby', tapToPlay: 'Tap to play', back: 'Back',
    noMyCases: 'Nothing to do', playing: 'Playing', photoAdded: (n) => `${n} selected`, sent: 'Sent',
    kinds: { offline: 'Camera offline', video_loss: 'Video loss', tamper: 'Tampering', motion: 'Motion', intrusion: 'Intrusion', line_cross: 'Line crossing',
      loiter: 'Loitering', crowd: 'Crowd', fire_smoke: 'Fire or smoke', object_left: 'Object left', io: 'Alarm input', storage_fault: 'Storage fault', storage_full: 'Recording storage full',
      phone_alarm: 'Phone alarm', sms_alarm: 'SMS alarm', gps_alarm: 'GPS alarm', manual_alarm: 'Manual alarm', object_removed: 'Object removed',
      retrograde: 'Wrong-way movement', flow_count: 'Flow count alarm', fast_motion: 'Fast movement', high_temperature: 'Device too hot',
      low_temperature: 'Device too cold', fan_fault: 'Fan fault', device_alarm: 'Device alarm', video_alarm: 'Video alarm', fault: 'Device fault',
      alarm: 'Alarm' },
    autoTitle: (kind, cam) => `${kind}: ${cam}`,
    autoDescription: (cam, kind, incident) => `Alarm on camera “${cam}” (${kind}), incident ${incident}`,
    notes: {
      opened_by_policy: (d) => `Opened by policy: ${t(`kinds.${d.kind}`)}`,
      fault_opened: (d) => `Opened by policy: ${t(`kinds.${d.kind}`)} for over ${d.after_min} min (${d.cameras} camera(s), since ${clock(d.down_at)})${d.reason ? `; why: ${t(`offlineWhy.${d.reason}`)}` : ''}`,
      camera_back: (d) => `Camera back online: down from ${clock(d.down_at)} to ${clock(d.back_at)} (${d.down_min} min); check and close the case`,
      incident_joined: (d) => `Incident ${d.incident} (camera ${d.camera_name || d.camera}) joined this case`,
      escalation_1: 'Supervision 1: 80% of the time limit used', escalation_2: 'Supervision 2: overdue', escalation_3: 'Supervision 3: overdue by five more working days',
      filed: (d) => `Filed: ${t(`sources.${d.source}`)}`, handled_on_spot: 'Handled on the spot by the grid worker', filed_open311: 'Filed through the Open311 hotline interface',
    },
    actors: { gateway: 'gateway (automatic)', 'sla-clock': 'SLA clock' },
    dur: { dh: (d, h) => `${d} d ${h} h`, hm: (h, m) => `${h} h ${m} min`, m: (m) => `${m} min` },
    pb: { deviceAway: 'The device cannot be asked for its recordings now', deviceIncomplete: "Part of the device's recording list did not arrive",
      deviceOnly: 'Only the device keeps footage here (blue, lower lane)', legendGateway: 'Centre recordings', legendDevice: 'Device recordings',
      open: 'Playback', live: 'Live', none: 'No footage from here on', failed: 'The footage cannot be played', export: 'Export', exportHint: 'Download 5 minutes of MP4 from the time shown',
      earlier: 'Earlier', later: 'Later', zoomIn: 'Zoom in', zoomOut: 'Zoom out' },
    clips: 'Evidence clips', clipFromDevice: "From the device's recording: ", clipAsk: 'Clip a window', clipMinutes: (m) => `${m} min`,
      clipNeedsStart: 'Pick a start time', clipAsked: 'Asked: the clip is listed here once it is made', clipPlay: 'Play the evidence clip', noClips: 'No evidence clips', download: 'Download', sha256: 'SHA-256',
    gb: { device: (id) => `GB/T 28181 device ${id}`, gone: 'no longer listed' },
    up: { title: 'Superior platforms', registered: 'Registered', registering: 'Registering', failed: 'Not registered', disabled: 'Disabled',
      keepalive: (at) => `keepalive ${at}`, streams: (n) => `${n} streaming`, channels: (n) => `${n} shared` },
    ptz: { up: 'Up', down: 'Down', left: 'Left', right: 'Right', zoom_in: 'Zoom in', zoom_out: 'Zoom out', failed: 'PTZ failed' },
    clipStates: { pending: 'Waiting for the footage', ready: 'Kept', empty: 'No footage in the range', failed: 'Could not be made', expired: 'Past its hold' },
  },
};

// clock formats a time the gateway wrote (RFC 3339) as month-day hour:minute.
function clock(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

let current = localStorage.getItem('lang') === 'en' ? 'en' : 'zh';
const listeners = [];

export const lang = () => current;

// t looks a key up ("state.online" reaches into a group); a function value
// is called with args. A missing key shows itself, never breaks a screen.
export function t(key, ...args) {
  let v = STRINGS[current];
  for (const part of key.split('.')) v = v && v[part];
  if (v === undefined) v = key.split('.').pop();
  return typeof v === 'function' ? v(...args) : v;
}

// has tells whether key names a string of the current language.
export function has(key) {
  let v = STRINGS[current];
  for (const part of key.split('.')) v = v && v[part];
  return v !== undefined;
}

// What the gateway writes itself is stored in the street's language with
// a key (a case's kind, an audit row's note_key): these say it in the
// reader's. What people write is shown as written.

// cameraName is a camera's name from the cameras known to the page, or
// what the case's stored title says after its kind.
function cameraName(cs, cameras) {
  const cam = cameras && cs.camera_id && cameras[cs.camera_id];
  if (cam) return cam.name;
  const i = (cs.title || '').indexOf('：');
  return i >= 0 ? cs.title.slice(i + 1) : (cs.camera_id || '');
}

export function caseTitle(cs, cameras) {
  if (!cs.kind || !has(`kinds.${cs.kind}`)) return cs.title || '';
  return t('autoTitle', t(`kinds.${cs.kind}`), cameraName(cs, cameras));
}

export function caseDescription(cs, cameras) {
  if (!cs.kind || !has(`kinds.${cs.kind}`)) return cs.description || '';
  return t('autoDescription', cameraName(cs, cameras), t(`kinds.${cs.kind}`), cs.incident_id || '');
}

export function auditNote(row) {
  const d = row.detail || {};
  return d.note_key && has(`notes.${d.note_key}`) ? t(`notes.${d.note_key}`, d) : (row.note || '');
}

export function actorName(actor) {
  return has(`actors.${actor}`) ? t(`actors.${actor}`) : actor;
}

// apply fills [data-i18n] text and [data-i18n-placeholder] placeholders.
export function apply(root = document) {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  root.querySelectorAll('[data-i18n]').forEach(e => { e.textContent = t(e.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach(e => { e.placeholder = t(e.dataset.i18nPlaceholder); });
}

export function onChange(f) { listeners.push(f); }

export function toggle() {
  current = current === 'zh' ? 'en' : 'zh';
  localStorage.setItem('lang', current);
  apply();
  listeners.forEach(f => f());
}
