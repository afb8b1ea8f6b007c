//! Every text the pages show, one table per language. A page picks its table once
//! ([`Lang::texts`]) and its template reads fields of it; a text missing in one language is a
//! compile error, not a blank on screen.
//!
//! Texts that come from the domain (colour words, reminders, vaccination states, reasons)
//! already carry both languages and are chosen with [`Lang::pick`].

use healthcode_domain::DocumentType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        match raw {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among ours; Chinese when it names
    /// neither (the region's language).
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Zh, |(_, l)| l)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// One of a pair of texts that come in both languages.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// A number of days as the code shows it: 0天 / 0 days.
    pub fn days(self, n: u32) -> String {
        match self {
            Lang::Zh => format!("{n}天"),
            Lang::En if n == 1 => "1 day".to_owned(),
            Lang::En => format!("{n} days"),
        }
    }

    pub fn document_type(self, t: DocumentType) -> &'static str {
        let (zh, en) = match t {
            DocumentType::ResidentId => ("居民身份证", "Resident identity card"),
            DocumentType::Passport => ("护照", "Passport"),
            DocumentType::HkMacauPermit => {
                ("港澳居民来往内地通行证", "Hong Kong/Macau travel permit")
            }
            DocumentType::TaiwanPermit => ("台湾居民来往大陆通行证", "Taiwan travel permit"),
            DocumentType::ForeignerPermanentResidence => (
                "外国人永久居留身份证",
                "Foreigner's permanent residence card",
            ),
        };
        self.pick(zh, en)
    }

    /// What a refused form field says, by the domain's error code.
    pub fn field_error(self, code: &str) -> &'static str {
        let (zh, en) = match code {
            "document_type_unknown" => ("请选择证件类型", "Choose a document type"),
            "document_number_empty" => ("请填写证件号码", "Enter the document number"),
            "document_number_length" => (
                "证件号码位数不对",
                "The document number has the wrong length for this document type",
            ),
            "document_number_characters" => (
                "证件号码含有该证件不使用的字符",
                "The document number contains characters this document does not use",
            ),
            "document_number_prefix" => (
                "证件号码开头不符合该证件的格式",
                "The document number does not start the way this document's numbers do",
            ),
            "document_number_region" => (
                "身份证号码的地区码不是中国的省份",
                "The ID number's region code is not a province of China",
            ),
            "document_number_birth_date" => (
                "身份证号码中的出生日期不存在",
                "The ID number's birth date is not a real date",
            ),
            "document_number_check_digit" => (
                "身份证号码校验位不对，请检查是否输错",
                "The ID number's check character is wrong — is there a typo?",
            ),
            "name_empty" => ("请填写姓名", "Enter your name"),
            "name_too_long" => (
                "姓名不能超过100个字符",
                "The name is longer than 100 characters",
            ),
            "name_characters" => (
                "姓名只能包含文字、空格和 · - ' , .",
                "The name may contain only letters, spaces and · - ' , .",
            ),
            "phone_invalid" => (
                "手机号应为11位中国大陆手机号，或 +国家代码 加号码",
                "Enter an 11-digit mainland mobile number, or + country code and number",
            ),
            "document_registered" => (
                "该证件已以其他姓名注册；如有错误请申请纠错",
                "This document is registered under another name; appeal if this is wrong",
            ),
            "identity_refused" => (
                "身份核验未通过，请检查姓名和证件号码",
                "Identity proofing refused: check the name and document number",
            ),
            "dependants_full" => (
                "最多可添加4位家人；请先移除一位",
                "You can add at most 4 family members; remove one first",
            ),
            "dependant_self" => ("不能把自己添加为家人", "You cannot add yourself"),
            "passkey_exists" => (
                "您已创建通行密钥，请用它登录。如果丢失了通行密钥，请勾选下方选项重新核验身份。",
                "You already have a passkey: sign in with it. If you lost it, tick the box below to prove your identity again.",
            ),
            _ => ("请检查此项", "Check this field"),
        };
        self.pick(zh, en)
    }
}

/// The texts of one language.
pub struct Texts {
    pub app_name: &'static str,
    pub skip_to_content: &'static str,
    pub switch_to: &'static str,
    pub large_on: &'static str,
    pub large_off: &'static str,
    pub sign_out: &'static str,
    pub footer: &'static str,

    pub home_title: &'static str,
    pub home_lead: &'static str,
    pub home_register: &'static str,
    pub home_signin: &'static str,

    pub register_title: &'static str,
    pub register_lead: &'static str,
    pub field_name: &'static str,
    pub field_document_type: &'static str,
    pub field_document_number: &'static str,
    pub field_phone: &'static str,
    pub field_phone_hint: &'static str,
    pub field_recover: &'static str,
    pub register_submit: &'static str,
    pub register_privacy: &'static str,
    pub form_errors: &'static str,

    pub passkey_title: &'static str,
    pub passkey_lead: &'static str,
    pub passkey_create: &'static str,
    pub passkey_created: &'static str,
    pub passkey_failed: &'static str,
    pub passkey_unsupported: &'static str,
    pub passkey_later: &'static str,

    pub signin_title: &'static str,
    pub signin_lead: &'static str,
    pub signin_button: &'static str,
    pub signin_failed: &'static str,
    pub signin_daily: &'static str,
    pub signin_lost: &'static str,
    pub signin_new: &'static str,

    pub code_title: &'static str,
    pub code_name: &'static str,
    pub code_document: &'static str,
    pub code_test: &'static str,
    pub code_no_test: &'static str,
    pub code_vaccination: &'static str,
    pub code_reminders: &'static str,
    pub code_valid_until: &'static str,
    pub code_now: &'static str,
    pub code_qr_alt: &'static str,
    pub code_live: &'static str,
    pub code_offline: &'static str,
    pub code_why: &'static str,
    pub reminder_cleared_by_test: &'static str,
    pub reminder_lapses: &'static str,
    pub reminder_released_by_office: &'static str,
    pub no_data_title: &'static str,
    pub no_data_body: &'static str,
    pub no_data_todo: &'static str,

    pub why_title: &'static str,
    pub why_lead: &'static str,
    pub why_evaluated: &'static str,
    pub why_policy: &'static str,
    pub why_kind: &'static str,
    pub why_result: &'static str,
    pub why_sampled: &'static str,
    pub why_resulted: &'static str,
    pub why_by: &'static str,
    pub why_record: &'static str,
    pub why_from: &'static str,
    pub why_until: &'static str,
    pub why_until_released: &'static str,
    pub why_released: &'static str,
    pub why_visit: &'static str,
    pub why_vaccinated: &'static str,
    pub back_to_code: &'static str,

    // Family (他人代查)
    pub family_title: &'static str,
    pub family_lead: &'static str,
    pub family_none: &'static str,
    pub family_show: &'static str,
    pub family_remove: &'static str,
    pub family_add_title: &'static str,
    pub family_add_submit: &'static str,
    pub family_full: &'static str,
    pub family_shown_by: &'static str,
    pub family_link: &'static str,
    // Check-in at a venue and the 14-day travel history.
    pub nav_checkin: &'static str,
    pub nav_history: &'static str,
    pub checkin_title: &'static str,
    pub checkin_scan: &'static str,
    pub checkin_scan_lead: &'static str,
    pub checkin_start_camera: &'static str,
    pub checkin_stop_camera: &'static str,
    pub checkin_looking: &'static str,
    pub checkin_camera_unavailable: &'static str,
    pub checkin_type: &'static str,
    pub checkin_code_label: &'static str,
    pub checkin_code_hint: &'static str,
    pub checkin_submit: &'static str,
    pub checkin_done: &'static str,
    pub checkin_at: &'static str,
    pub checkin_your_code: &'static str,
    pub checkin_pass: &'static str,
    pub checkin_stop: &'static str,
    pub checkin_empty: &'static str,
    pub checkin_short_invalid: &'static str,
    pub checkin_not_place_code: &'static str,
    pub checkin_other_region: &'static str,
    pub checkin_unknown_venue: &'static str,
    pub checkin_no_code: &'static str,
    pub checkin_bad_picture: &'static str,
    pub checkin_too_large: &'static str,
    pub history_title: &'static str,
    pub history_lead: &'static str,
    pub history_districts: &'static str,
    pub history_district: &'static str,
    pub history_empty: &'static str,

    // ---- paper pass (纸质通行证) ----
    pub pass_link: &'static str,
    pub pass_title: &'static str,
    pub pass_lead: &'static str,
    pub pass_issue: &'static str,
    pub pass_sheet_title: &'static str,
    pub pass_qr_alt: &'static str,
    pub pass_issued: &'static str,
    pub pass_printed: &'static str,
    pub pass_note: &'static str,
    pub pass_paper: &'static str,
    pub pass_print: &'static str,
    pub pass_reprint: &'static str,
    pub pass_reprint_hint: &'static str,
    pub pass_revoke: &'static str,
    // ---- end of paper pass ----
    // --- declarations (自主申报): the declare page and declarations on the why page ---
    pub declare_link: &'static str,
    pub declare_title: &'static str,
    pub declare_lead: &'static str,
    pub declare_symptoms_title: &'static str,
    pub declare_symptoms_field: &'static str,
    pub declare_onset_field: &'static str,
    pub declare_symptoms_submit: &'static str,
    pub declare_arrival_title: &'static str,
    pub declare_from_field: &'static str,
    pub declare_from_hint: &'static str,
    pub declare_arrived_field: &'static str,
    pub declare_arrived_hint: &'static str,
    pub declare_arrival_submit: &'static str,
    pub declare_mine: &'static str,
    pub declare_none: &'static str,
    pub declare_kind_symptoms: &'static str,
    pub declare_kind_arrival: &'static str,
    pub declare_err_symptoms_empty: &'static str,
    pub declare_err_symptom_unknown: &'static str,
    pub declare_err_date: &'static str,
    pub declare_err_future: &'static str,
    pub declare_err_from: &'static str,
    pub declare_err_limit: &'static str,
    pub why_self_declared: &'static str,
    pub why_symptoms: &'static str,
    pub why_onset: &'static str,
    pub why_arrived_from: &'static str,
    pub why_arrived_at: &'static str,
    pub why_declared_at: &'static str,
    // --- end of declarations ---
    pub error_title: &'static str,
    pub error_csrf: &'static str,
    pub error_not_found: &'static str,
    pub error_internal: &'static str,
    pub error_identity_unavailable: &'static str,
    pub error_busy: &'static str,
}

pub static ZH: Texts = Texts {
    app_name: "健康宝",
    skip_to_content: "跳到正文",
    switch_to: "English",
    large_on: "长辈模式",
    large_off: "标准字号",
    sign_out: "退出登录",
    footer: "健康码的颜色由检测、接种和风险判定实时计算；每一项依据都可查看。",

    home_title: "健康宝",
    home_lead: "出示健康码、查看颜色的依据、为家人代查。",
    home_register: "注册",
    home_signin: "用通行密钥登录",

    register_title: "注册",
    register_lead: "填写证件上的姓名和号码，由身份核验服务确认后即可使用。",
    field_name: "姓名",
    field_document_type: "证件类型",
    field_document_number: "证件号码",
    field_phone: "手机号（选填）",
    field_phone_hint: "11位手机号，或 +国家代码 加号码",
    field_recover: "我丢失了通行密钥：重新核验身份，并作废原有的通行密钥",
    register_submit: "核验身份并继续",
    register_privacy: "不采集人脸或照片。证件号码加密保存，健康码上只显示部分号码。",
    form_errors: "请更正以下内容：",

    passkey_title: "创建通行密钥",
    passkey_lead: "通行密钥保存在您的手机上，用指纹、面容或锁屏密码解锁。以后每天登录只需验证一次，不再输入证件号码。",
    passkey_create: "创建通行密钥",
    passkey_created: "通行密钥已创建。",
    passkey_failed: "没有创建通行密钥，请重试。",
    passkey_unsupported: "此浏览器不支持通行密钥。",
    passkey_later: "先查看健康码",

    signin_title: "登录",
    signin_lead: "用您在本机创建的通行密钥登录。",
    signin_button: "用通行密钥登录",
    signin_failed: "未能用通行密钥登录，请重试。",
    signin_daily: "每天零点后需要重新验证一次。",
    signin_lost: "丢失了通行密钥？重新核验身份",
    signin_new: "还没有注册？现在注册",

    code_title: "我的健康码",
    code_name: "姓名",
    code_document: "证件",
    code_test: "核酸",
    code_no_test: "无记录",
    code_vaccination: "疫苗",
    code_reminders: "提醒",
    code_valid_until: "有效期至",
    code_now: "当前时间",
    code_qr_alt: "健康码二维码",
    code_live: "实时",
    code_offline: "连接中断，正在重连…",
    code_why: "为什么是这个颜色？",
    reminder_cleared_by_test: "在此之后做一次核酸检测，结果阴性即解除。",
    reminder_lapses: "到期自动解除：",
    reminder_released_by_office: "由社区或疾控部门核实后解除。",
    no_data_title: "健康宝暂无您的防疫信息",
    no_data_body: "这不是错误：我们还没有收到您的核酸检测、疫苗接种或风险判定记录。",
    no_data_todo: "完成一次核酸检测后，结果会自动显示在这里。如您认为有误，可申请纠错。",

    why_title: "为什么是这个颜色",
    why_lead: "以下每一项都是决定健康码颜色的依据。",
    why_evaluated: "计算时间",
    why_policy: "规则版本",
    why_kind: "类别",
    why_result: "结果",
    why_sampled: "采样时间",
    why_resulted: "出结果时间",
    why_by: "出具机构",
    why_record: "记录编号",
    why_from: "开始",
    why_until: "结束",
    why_until_released: "至解除为止",
    why_released: "已解除",
    why_visit: "到访",
    why_vaccinated: "接种日期",
    back_to_code: "返回健康码",

    family_title: "他人代查",
    family_lead: "为没有手机的家人（孩子、老人）出示健康码。最多4人，每人需经身份核验。",
    family_none: "还没有添加家人。",
    family_show: "出示健康码",
    family_remove: "移除",
    family_add_title: "添加家人",
    family_add_submit: "核验身份并添加",
    family_full: "最多可添加4位家人；请先移除一位。",
    family_shown_by: "代查人：",
    family_link: "他人代查",
    // Check-in at a venue and the 14-day travel history.
    nav_checkin: "扫场所码登记",
    nav_history: "14天行程",
    checkin_title: "场所登记",
    checkin_scan: "扫描场所码",
    checkin_scan_lead: "把摄像头对准门口张贴的场所码（二维码）。",
    checkin_start_camera: "打开摄像头",
    checkin_stop_camera: "关闭摄像头",
    checkin_looking: "正在寻找场所码…",
    checkin_camera_unavailable: "无法使用摄像头。请在下方输入场所码下面的手输码。",
    checkin_type: "手动输入",
    checkin_code_label: "手输码",
    checkin_code_hint: "场所码下方印有“手输码”，全部为数字。",
    checkin_submit: "登记",
    checkin_done: "已登记",
    checkin_at: "时间",
    checkin_your_code: "您的健康码",
    checkin_pass: "符合本场所的入场要求。",
    checkin_stop: "不符合本场所的入场要求：",
    checkin_empty: "请输入手输码。",
    checkin_short_invalid: "手输码不对，请检查是否输错。",
    checkin_not_place_code: "这不是有效的场所码。",
    checkin_other_region: "这是其他地区的场所码，请用该地区的健康码应用登记。",
    checkin_unknown_venue: "没有这个场所。",
    checkin_no_code: "画面中没有找到场所码。",
    checkin_bad_picture: "无法读取这张图片。",
    checkin_too_large: "图片太大。",
    history_title: "我的14天行程",
    history_lead: "您在最近14天内登记过的场所，最新的在前。",
    history_districts: "到访地区：",
    history_district: "地区",
    history_empty: "最近14天没有登记记录。",

    // ---- paper pass (纸质通行证) ----
    pass_link: "打印纸质通行证（给没有手机的人）",
    pass_title: "纸质通行证",
    pass_lead: "为没有智能手机的人打印一张通行证。通行证上只有打码后的姓名、证件号和一个二维码。",
    pass_issue: "生成纸质通行证",
    pass_sheet_title: "纸质通行证",
    pass_qr_alt: "纸质通行证二维码",
    pass_issued: "发放日期",
    pass_printed: "打印日期",
    pass_note: "本通行证不显示健康状态。扫码时，场所的核验设备会联网查询持有人当前的健康码颜色。",
    pass_paper: "纸张",
    pass_print: "打印",
    pass_reprint: "重新打印（原通行证作废）",
    pass_reprint_hint: "通行证丢失时请重新打印：旧的一张将立即失效。",
    pass_revoke: "作废通行证",
    // ---- end of paper pass ----
    // --- declarations (自主申报) ---
    declare_link: "自主申报（症状、抵达）",
    declare_title: "自主申报",
    declare_lead: "如有症状，或从外地抵达，请如实申报。申报后健康码会显示提醒，核酸检测阴性后自动解除。",
    declare_symptoms_title: "健康申报：症状",
    declare_symptoms_field: "症状（可多选）",
    declare_onset_field: "症状开始日期",
    declare_symptoms_submit: "申报症状",
    declare_arrival_title: "行程申报：抵达",
    declare_from_field: "从何地抵达",
    declare_from_hint: "地区名称或代码，如 上海 或 CN-SH",
    declare_arrived_field: "抵达时间",
    declare_arrived_hint: "当地时间",
    declare_arrival_submit: "申报抵达",
    declare_mine: "我的申报",
    declare_none: "暂无申报。",
    declare_kind_symptoms: "健康申报（症状）",
    declare_kind_arrival: "行程申报（抵达）",
    declare_err_symptoms_empty: "请至少选择一项症状",
    declare_err_symptom_unknown: "请从列表中选择症状",
    declare_err_date: "请填写有效的日期和时间（2019-12-01 至 2099-12-31）",
    declare_err_future: "时间不能晚于现在",
    declare_err_from: "请填写出发地（1至40个字符，不含控制字符）",
    declare_err_limit: "24小时内申报次数已达上限，请明天再试",
    why_self_declared: "来源",
    why_symptoms: "症状",
    why_onset: "开始日期",
    why_arrived_from: "出发地",
    why_arrived_at: "抵达时间",
    why_declared_at: "申报时间",
    // --- end of declarations ---
    error_title: "出错了",
    error_csrf: "表单已过期，请返回重新提交。",
    error_not_found: "没有这个页面。",
    error_internal: "系统出现问题，已记录，请稍后再试。",
    error_identity_unavailable: "身份核验服务暂不可用，请稍后再试。",
    error_busy: "操作过于频繁，请稍后再试。",
};

pub static EN: Texts = Texts {
    app_name: "Health Code",
    skip_to_content: "Skip to content",
    switch_to: "中文",
    large_on: "Large text",
    large_off: "Standard text",
    sign_out: "Sign out",
    footer: "The colour is computed in real time from tests, vaccinations and risk designations; every reason can be seen.",

    home_title: "Health Code",
    home_lead: "Show your health code, see why it has its colour, show a family member's code.",
    home_register: "Register",
    home_signin: "Sign in with a passkey",

    register_title: "Register",
    register_lead: "Enter the name and number on your document; the identity-proofing service confirms them.",
    field_name: "Name",
    field_document_type: "Document type",
    field_document_number: "Document number",
    field_phone: "Mobile phone (optional)",
    field_phone_hint: "11 digits, or + country code and number",
    field_recover: "I lost my passkey: prove my identity again and revoke my old passkeys",
    register_submit: "Prove my identity and continue",
    register_privacy: "No face image or photo is collected. Your document number is stored encrypted; the code shows only part of it.",
    form_errors: "Please correct the following:",

    passkey_title: "Create a passkey",
    passkey_lead: "A passkey stays on your phone and is unlocked with your fingerprint, face or screen lock. From now on you sign in once a day with it, without typing your document number.",
    passkey_create: "Create a passkey",
    passkey_created: "Your passkey is created.",
    passkey_failed: "No passkey was created. Please try again.",
    passkey_unsupported: "This browser does not support passkeys.",
    passkey_later: "Show my code first",

    signin_title: "Sign in",
    signin_lead: "Sign in with the passkey you created on this device.",
    signin_button: "Sign in with a passkey",
    signin_failed: "Signing in with the passkey did not work. Please try again.",
    signin_daily: "After midnight you verify once again, every day.",
    signin_lost: "Lost your passkey? Prove your identity again",
    signin_new: "Not registered yet? Register",

    code_title: "My health code",
    code_name: "Name",
    code_document: "Document",
    code_test: "Test",
    code_no_test: "no record",
    code_vaccination: "Vaccination",
    code_reminders: "Reminders",
    code_valid_until: "Valid until",
    code_now: "Time now",
    code_qr_alt: "Health code QR",
    code_live: "Live",
    code_offline: "Connection lost, reconnecting…",
    code_why: "Why this colour?",
    reminder_cleared_by_test: "Cleared by a negative test taken after it.",
    reminder_lapses: "Lapses by itself at ",
    reminder_released_by_office: "Released by the community office or the CDC once checked.",
    no_data_title: "We have no health information for you yet",
    no_data_body: "This is not an error: no test result, vaccination or risk designation has reached us for you.",
    no_data_todo: "After your next test, the result appears here by itself. If you believe this is wrong, you can appeal.",

    why_title: "Why this colour",
    why_lead: "Each item below decides the colour of your code.",
    why_evaluated: "Computed at",
    why_policy: "Policy version",
    why_kind: "Kind",
    why_result: "Result",
    why_sampled: "Sampled",
    why_resulted: "Result at",
    why_by: "By",
    why_record: "Record",
    why_from: "From",
    why_until: "Until",
    why_until_released: "until released",
    why_released: "Released",
    why_visit: "Visit",
    why_vaccinated: "Vaccinated on",
    back_to_code: "Back to my code",

    family_title: "Family",
    family_lead: "Show the code of family members without a phone (children, elderly people). Up to 4, each proved by the identity service.",
    family_none: "No family members added yet.",
    family_show: "Show code",
    family_remove: "Remove",
    family_add_title: "Add a family member",
    family_add_submit: "Prove their identity and add",
    family_full: "You can add at most 4 family members; remove one first.",
    family_shown_by: "Shown by guardian ",
    family_link: "Family",
    // Check-in at a venue and the 14-day travel history.
    nav_checkin: "Check in at a venue",
    nav_history: "My 14-day travel history",
    checkin_title: "Check in at a venue",
    checkin_scan: "Scan the place code",
    checkin_scan_lead: "Point the camera at the place code (QR) posted at the door.",
    checkin_start_camera: "Start the camera",
    checkin_stop_camera: "Stop the camera",
    checkin_looking: "Looking for a place code…",
    checkin_camera_unavailable: "The camera is not available. Type the code printed under the place code below.",
    checkin_type: "Type the code",
    checkin_code_label: "Code to type",
    checkin_code_hint: "The poster prints a “code to type” under the QR: digits only.",
    checkin_submit: "Check in",
    checkin_done: "Checked in",
    checkin_at: "Time",
    checkin_your_code: "Your code",
    checkin_pass: "You meet this venue's entry requirements.",
    checkin_stop: "You do not meet this venue's entry requirements:",
    checkin_empty: "Enter the code.",
    checkin_short_invalid: "This code is not right — is there a typo?",
    checkin_not_place_code: "This is not a valid place code.",
    checkin_other_region: "This place code belongs to another region; check in with that region's app.",
    checkin_unknown_venue: "There is no such venue.",
    checkin_no_code: "No place code in the picture.",
    checkin_bad_picture: "This picture cannot be read.",
    checkin_too_large: "The picture is too large.",
    history_title: "My 14-day travel history",
    history_lead: "Where you checked in over the last 14 days, newest first.",
    history_districts: "Districts visited:",
    history_district: "District",
    history_empty: "No check-ins in the last 14 days.",

    // ---- paper pass (纸质通行证) ----
    pass_link: "Print a paper pass (for someone without a phone)",
    pass_title: "Paper pass",
    pass_lead: "Print a pass for someone without a smartphone. It shows only the masked name, the masked document number and a QR code.",
    pass_issue: "Issue a paper pass",
    pass_sheet_title: "Paper pass",
    pass_qr_alt: "Paper pass QR code",
    pass_issued: "Issued",
    pass_printed: "Printed",
    pass_note: "This pass shows no health status. When it is scanned, the gate looks up the holder's current code colour online.",
    pass_paper: "Paper",
    pass_print: "Print",
    pass_reprint: "Reprint (revokes the old one)",
    pass_reprint_hint: "If the pass is lost, reprint it: the old sheet stops working at once.",
    pass_revoke: "Revoke the pass",
    // ---- end of paper pass ----
    // --- declarations (自主申报) ---
    declare_link: "Declare symptoms or an arrival",
    declare_title: "Declare",
    declare_lead: "If you have symptoms, or have arrived from another region, declare it here. Your code then shows a reminder, which a negative PCR test clears.",
    declare_symptoms_title: "Health declaration: symptoms",
    declare_symptoms_field: "Symptoms (choose all that apply)",
    declare_onset_field: "Date the symptoms began",
    declare_symptoms_submit: "Declare symptoms",
    declare_arrival_title: "Trip declaration: arrival",
    declare_from_field: "Arrived from",
    declare_from_hint: "A region's name or code, such as Shanghai or CN-SH",
    declare_arrived_field: "Arrived at",
    declare_arrived_hint: "Local time",
    declare_arrival_submit: "Declare arrival",
    declare_mine: "My declarations",
    declare_none: "No declarations yet.",
    declare_kind_symptoms: "Health declaration (symptoms)",
    declare_kind_arrival: "Trip declaration (arrival)",
    declare_err_symptoms_empty: "Choose at least one symptom",
    declare_err_symptom_unknown: "Choose symptoms from the list",
    declare_err_date: "Enter a valid date and time (2019-12-01 to 2099-12-31)",
    declare_err_future: "The time cannot be later than now",
    declare_err_from: "Enter where you arrived from (1 to 40 characters, no control characters)",
    declare_err_limit: "You have made the most declarations allowed in 24 hours; try again tomorrow",
    why_self_declared: "Source",
    why_symptoms: "Symptoms",
    why_onset: "Began on",
    why_arrived_from: "Arrived from",
    why_arrived_at: "Arrived at",
    why_declared_at: "Declared at",
    // --- end of declarations ---
    error_title: "Something went wrong",
    error_csrf: "This form has expired. Go back and send it again.",
    error_not_found: "There is no such page.",
    error_internal: "Something went wrong on our side; it has been logged. Please try again.",
    error_identity_unavailable: "Identity proofing is not available right now. Please try again later.",
    error_busy: "Too many requests. Please wait a moment.",
};

/// The texts of the gate's pages and the venue manager's pages, one table per language (as
/// [`Texts`]). The scanner page's script reads its texts from the page (`data-*`), so that it
/// speaks the page's language offline too.
pub struct GateTexts {
    pub app_name: &'static str,
    pub short_name: &'static str,
    pub title: &'static str,
    pub not_bound_title: &'static str,
    pub not_bound: &'static str,
    pub enrol_title: &'static str,
    pub enrolling: &'static str,
    pub enrolled: &'static str,
    pub enrol_failed: &'static str,
    pub enrol_no_token: &'static str,
    pub scan_label: &'static str,
    pub scan_hint: &'static str,
    pub online: &'static str,
    pub offline: &'static str,
    pub count_pass: &'static str,
    pub count_stop: &'static str,
    pub count_queue: &'static str,
    pub pass: &'static str,
    pub stop: &'static str,
    pub again: &'static str,
    pub r_expired: &'static str,
    pub r_not_yet_valid: &'static str,
    pub r_invalid: &'static str,
    pub r_foreign: &'static str,
    pub r_not_code: &'static str,
    pub r_trust_expired: &'static str,
    pub r_not_ready: &'static str,
    pub r_needs_network: &'static str,
    pub r_not_registered: &'static str,
    pub r_pass_invalid: &'static str,
    pub r_pass_revoked: &'static str,
    pub r_busy: &'static str,
    pub r_document: &'static str,
    pub r_failed: &'static str,
    pub w_stale: &'static str,
    pub w_expired: &'static str,
    pub w_revoked: &'static str,
    pub w_root: &'static str,
    pub w_offline: &'static str,
    pub camera_start: &'static str,
    pub camera_stop: &'static str,
    pub camera_unavailable: &'static str,
    pub id_check: &'static str,
    pub id_title: &'static str,
    pub id_type: &'static str,
    pub id_number: &'static str,
    pub id_submit: &'static str,
    pub id_cancel: &'static str,
    pub install_hint: &'static str,
    pub device_name_invalid: &'static str,
    pub venues_title: &'static str,
    pub venues_none: &'static str,
    pub venue_rules: &'static str,
    pub venue_devices: &'static str,
    pub venue_no_devices: &'static str,
    pub device_name: &'static str,
    pub device_add: &'static str,
    pub device_revoke: &'static str,
    pub device_relink: &'static str,
    pub link_title: &'static str,
    pub link_hint: &'static str,
    pub link_once: &'static str,
    pub venue_poster: &'static str,
    pub venue_stats: &'static str,
    pub stats_hour: &'static str,
    pub stats_checkins: &'static str,
    pub stats_stopped: &'static str,
    pub stats_total: &'static str,
    pub stats_none: &'static str,
    pub venues_back: &'static str,
    pub venues_gate: &'static str,
}

pub static GATE_ZH: GateTexts = GateTexts {
    app_name: "健康宝 · 场所核验",
    short_name: "核验",
    title: "扫码核验",
    not_bound_title: "此浏览器尚未登记为核验设备",
    not_bound: "请向场所管理员索取设备登记链接（或二维码），在本设备上打开即可。链接只能使用一次。",
    enrol_title: "登记核验设备",
    enrolling: "正在登记本设备……",
    enrolled: "登记完成，正在打开核验页面。",
    enrol_failed: "此登记链接已使用、已过期或已撤回，请向场所管理员索取新链接。",
    enrol_no_token: "链接不完整：请完整打开管理员提供的链接。",
    scan_label: "扫码枪",
    scan_hint: "将健康码、纸质通行证对准扫码枪；也可用摄像头或证件查验。",
    online: "在线",
    offline: "离线",
    count_pass: "今日通过",
    count_stop: "今日拦截",
    count_queue: "待上传",
    pass: "通过",
    stop: "禁止通行",
    again: "重复扫码",
    r_expired: "健康码已过期，请刷新",
    r_not_yet_valid: "健康码时间不符，请核对手机时间",
    r_invalid: "健康码无效",
    r_foreign: "本场所不受理境外证书，请出示健康码",
    r_not_code: "不是健康码",
    r_trust_expired: "核验密钥已过期，请联网更新",
    r_not_ready: "设备尚未取得配置，请联网",
    r_needs_network: "需联网查询，请稍后再试",
    r_not_registered: "未查到登记信息",
    r_pass_invalid: "纸质通行证无效",
    r_pass_revoked: "纸质通行证已作废",
    r_busy: "查询过于频繁，请稍候",
    r_document: "证件号码有误，请核对",
    r_failed: "查询失败，请重试",
    w_stale: "核验密钥待更新：请尽快联网",
    w_expired: "核验密钥已过期：联网更新前一律禁止通行",
    w_revoked: "此核验设备已被撤销，请联系场所管理员",
    w_root: "收到的信任列表签名不符，已忽略",
    w_offline: "离线核验中，记录将在联网后上传",
    camera_start: "摄像头扫码",
    camera_stop: "关闭摄像头",
    camera_unavailable: "无法使用摄像头",
    id_check: "证件查验",
    id_title: "按证件查验（需联网）",
    id_type: "证件类型",
    id_number: "证件号码",
    id_submit: "查验",
    id_cancel: "取消",
    install_hint: "可将本页面添加到主屏幕，离线也能打开。",
    device_name_invalid: "设备名称需为1至100个可见字符",
    venues_title: "我管理的场所",
    venues_none: "您还没有管理的场所。场所由卫生健康部门的工作人员指定给管理员。",
    venue_rules: "入场要求",
    venue_devices: "核验设备",
    venue_no_devices: "还没有核验设备。",
    device_name: "设备名称（如“东门1号”）",
    device_add: "添加设备并生成登记链接",
    device_revoke: "撤销",
    device_relink: "重新生成登记链接",
    link_title: "设备登记链接",
    link_hint: "在核验设备（手机或电脑）上打开此链接，或用它扫描下方二维码。链接只能使用一次，有效期至",
    link_once: "此链接只显示这一次，请勿转发给他人。",
    venue_poster: "打印场所码海报",
    venue_stats: "最近24小时登记与拦截（按小时）",
    stats_hour: "时段",
    stats_checkins: "登记",
    stats_stopped: "拦截",
    stats_total: "合计",
    stats_none: "最近24小时没有登记。",
    venues_back: "返回场所列表",
    venues_gate: "打开核验页面",
};

pub static GATE_EN: GateTexts = GateTexts {
    app_name: "healthcode · Gate",
    short_name: "Gate",
    title: "Scan and check",
    not_bound_title: "This browser is not a gate device yet",
    not_bound: "Ask the venue's manager for a device enrolment link (or its QR code) and open it on this device. A link works once.",
    enrol_title: "Enrol a gate device",
    enrolling: "Enrolling this device…",
    enrolled: "Enrolled. Opening the scanner.",
    enrol_failed: "This enrolment link was used, has expired or was withdrawn; ask the venue's manager for a new one.",
    enrol_no_token: "The link is incomplete: open the whole link the manager gave you.",
    scan_label: "Scanner",
    scan_hint: "Hold a health code or a paper pass under the scanner; or use the camera or an ID check.",
    online: "Online",
    offline: "Offline",
    count_pass: "Passed today",
    count_stop: "Stopped today",
    count_queue: "To upload",
    pass: "PASS",
    stop: "STOP",
    again: "Scanned again",
    r_expired: "Code expired — refresh it",
    r_not_yet_valid: "Code not yet valid — check the phone's clock",
    r_invalid: "Not a valid health code",
    r_foreign: "Certificates from abroad are not accepted here — show a health code",
    r_not_code: "Not a health code",
    r_trust_expired: "Verification keys out of date — connect to update",
    r_not_ready: "No configuration yet — connect to the network",
    r_needs_network: "Needs the network — try again when online",
    r_not_registered: "No one registered with this document",
    r_pass_invalid: "Not a valid paper pass",
    r_pass_revoked: "This paper pass was revoked",
    r_busy: "Too many look-ups — wait a moment",
    r_document: "Check the document number",
    r_failed: "Look-up failed — try again",
    w_stale: "Verification keys due for renewal: connect soon",
    w_expired: "Verification keys expired: everyone is stopped until the gate is online",
    w_revoked: "This gate device was revoked; contact the venue's manager",
    w_root: "A trust list with the wrong signature was received and ignored",
    w_offline: "Offline: checking on this device; check-ins upload when online",
    camera_start: "Scan with camera",
    camera_stop: "Stop camera",
    camera_unavailable: "The camera is not available",
    id_check: "ID check",
    id_title: "Check by document (needs the network)",
    id_type: "Document type",
    id_number: "Document number",
    id_submit: "Check",
    id_cancel: "Cancel",
    install_hint: "Add this page to the home screen to open it offline.",
    device_name_invalid: "A device name is 1 to 100 visible characters",
    venues_title: "My venues",
    venues_none: "You manage no venue yet. The health authority's staff assign venues to their managers.",
    venue_rules: "Entry requirements",
    venue_devices: "Gate devices",
    venue_no_devices: "No gate device yet.",
    device_name: "Device name (e.g. “East door 1”)",
    device_add: "Add a device and make its enrolment link",
    device_revoke: "Revoke",
    device_relink: "New enrolment link",
    link_title: "Device enrolment link",
    link_hint: "Open this link on the gate's phone or PC, or scan the QR code below with it. It works once, until",
    link_once: "This link is shown only now; do not pass it to anyone else.",
    venue_poster: "Print the place-code poster",
    venue_stats: "Check-ins and stops in the last 24 hours, by hour",
    stats_hour: "Hour",
    stats_checkins: "Check-ins",
    stats_stopped: "Stopped",
    stats_total: "Total",
    stats_none: "No check-ins in the last 24 hours.",
    venues_back: "Back to my venues",
    venues_gate: "Open the gate page",
};

impl Lang {
    /// The gate's and venue manager's texts in this language.
    pub fn gate(self) -> &'static GateTexts {
        match self {
            Lang::Zh => &GATE_ZH,
            Lang::En => &GATE_EN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_highest_quality_of_ours() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=1, en;q=0.5, zh;q=0.4"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("de, fr"), Lang::Zh);
        assert_eq!(Lang::from_accept_language(""), Lang::Zh);
    }
}
