//! Localized systeminfo labels and OS-configuration words.
//!
//! systeminfo translates every label, so kbgap knows the labels of the languages admins send
//! (checked against real captures: en, de, fr, es, it, ru, zh-CN; others from Windows' own
//! strings, best effort). Labels are only the first clue: the reader also finds fields by their
//! fixed order and by the shape of their values, so an unknown language still parses.

/// The fields kbgap reads from systeminfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// "Host Name".
    HostName,
    /// "OS Name".
    OsName,
    /// "OS Version".
    OsVersion,
    /// "OS Configuration".
    OsConfiguration,
    /// "System Type".
    SystemType,
    /// "System Locale".
    SystemLocale,
    /// "Hotfix(s)".
    Hotfixes,
}

impl Label {
    /// The English label, used in messages.
    pub fn english(self) -> &'static str {
        match self {
            Self::HostName => "Host Name",
            Self::OsName => "OS Name",
            Self::OsVersion => "OS Version",
            Self::OsConfiguration => "OS Configuration",
            Self::SystemType => "System Type",
            Self::SystemLocale => "System Locale",
            Self::Hotfixes => "Hotfix(s)",
        }
    }

    /// The field's position after the "OS Version" field in systeminfo's fixed order (XP … 11).
    pub fn offset_from_version(self) -> isize {
        match self {
            Self::HostName => -2,
            Self::OsName => -1,
            Self::OsVersion => 0,
            Self::OsConfiguration => 2,
            Self::SystemType => 11,
            Self::SystemLocale => 17,
            Self::Hotfixes => 28,
        }
    }

    /// The known translations of this label, normalized by [`normalize`].
    fn translations(self) -> &'static [&'static str] {
        match self {
            Self::HostName => &[
                "host name",
                "hostname",
                "nom de l'hôte",
                "nombre de host",
                "nome host",
                "hostnaam",
                "имя узла",
                "主机名",
                "nome do host",
                "ホスト名",
                "nazwa hosta",
                "název hostitele",
                "호스트 이름",
                "主機名稱",
            ],
            Self::OsName => &[
                "os name",
                "betriebssystemname",
                "nom du système d'exploitation",
                "nombre del sistema operativo",
                "nome so",
                "naam van besturingssysteem",
                "название ос",
                "os 名称",
                "nome do sistema operacional",
                "os 名",
                "nazwa systemu operacyjnego",
                "název operačního systému",
                "os 이름",
                "作業系統名稱",
            ],
            Self::OsVersion => &[
                "os version",
                "betriebssystemversion",
                "version du système",
                "versión del sistema operativo",
                "versione so",
                "versie van besturingssysteem",
                "версия ос",
                "os 版本",
                "versão do sistema operacional",
                "os バージョン",
                "wersja systemu operacyjnego",
                "verze operačního systému",
                "os 버전",
                "作業系統版本",
            ],
            Self::OsConfiguration => &[
                "os configuration",
                "betriebssystemkonfiguration",
                "configuration du système d'exploitation",
                "configuración del sistema operativo",
                "configurazione so",
                "configuratie van besturingssysteem",
                "параметры ос",
                "os 配置",
                "configuração do so",
                "os 構成",
                "konfiguracja systemu operacyjnego",
                "os 구성",
                "作業系統設定",
            ],
            Self::SystemType => &[
                "system type",
                "systemtyp",
                "type du système",
                "tipo de sistema",
                "tipo sistema",
                "systeemtype",
                "тип системы",
                "系统类型",
                "システムの種類",
                "typ systemu",
                "typ počítače",
                "시스템 종류",
                "系統類型",
            ],
            Self::SystemLocale => &[
                "system locale",
                "systemgebietsschema",
                "option régionale du système",
                "configuración regional del sistema",
                "impostazioni locali sistema",
                "landinstellingen van systeem",
                "язык системы",
                "系统区域设置",
                "localidade do sistema",
                "システム ロケール",
                "ustawienia regionalne systemu",
                "시스템 로캘",
                "系統地區設定",
            ],
            Self::Hotfixes => &[
                "hotfix(s)",
                "hotfix(es)",
                "correctif(s)",
                "revisión(es)",
                "aggiornamenti rapidi",
                "исправление(я)",
                "修补程序",
                "ホットフィックス",
                "poprawki",
                "opravy hotfix",
                "핫픽스",
                "hotfix",
                "hotfixes",
                "修正程式",
            ],
        }
    }

    /// All labels, in systeminfo order.
    pub const ALL: [Label; 7] = [
        Self::HostName,
        Self::OsName,
        Self::OsVersion,
        Self::OsConfiguration,
        Self::SystemType,
        Self::SystemLocale,
        Self::Hotfixes,
    ];
}

/// Lowercases, drops the trailing colon and collapses whitespace (including no-break spaces).
pub fn normalize(label: &str) -> String {
    let lower = label
        .trim()
        .trim_end_matches([':', '：'])
        .trim()
        .to_lowercase();
    lower
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which field a (raw) label names, if it is a known translation.
pub fn classify(label: &str) -> Option<Label> {
    let n = normalize(label);
    Label::ALL
        .into_iter()
        .find(|l| l.translations().contains(&n.as_str()))
}

/// How many lines of `text` start with a known label: the strongest sign that a decoding is right.
pub fn label_hits(text: &str) -> usize {
    text.lines()
        .take(80)
        .filter_map(|line| line.split_once(':').map(|(label, _)| label))
        .filter(|label| label.chars().count() < 48 && classify(label).is_some())
        .count()
}

/// Words of an OS-configuration value that mean a server (member, standalone, domain controller).
const SERVER_WORDS: &[&str] = &[
    "server",
    "serveur",
    "servidor",
    "сервер",
    "服务器",
    "サーバー",
    "controller",
    "contrôleur",
    "controlador",
    "контроллер",
    "控制器",
    "コントローラー",
    "domänencontroller",
    "domeincontroller",
    "serwer",
    "kontroler",
    "sunucu",
    "서버",
    "伺服器",
];

/// Words of an OS-configuration value that mean a workstation (client).
const CLIENT_WORDS: &[&str] = &[
    "workstation",
    "arbeitsstation",
    "station de travail",
    "estación de trabajo",
    "estação de trabalho",
    "рабочая станция",
    "工作站",
    "ワークステーション",
    "werkstation",
    "stacja robocza",
    "pracovní stanice",
    "iş istasyonu",
    "워크스테이션",
];

/// Whether an OS-configuration value ("Standalone Workstation", "Основной контроллер домена")
/// describes a server: `Some(true)` server, `Some(false)` client, `None` unknown wording.
pub fn configuration_is_server(value: &str) -> Option<bool> {
    let v = value.to_lowercase();
    if CLIENT_WORDS.iter().any(|w| v.contains(w)) {
        Some(false)
    } else if SERVER_WORDS.iter().any(|w| v.contains(w)) {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_many_languages() {
        assert_eq!(classify("Host Name:"), Some(Label::HostName));
        assert_eq!(
            classify("Versión del sistema operativo"),
            Some(Label::OsVersion)
        );
        assert_eq!(classify("Версия ОС"), Some(Label::OsVersion));
        assert_eq!(classify("OS 版本"), Some(Label::OsVersion));
        assert_eq!(classify("Hotfix(es)"), Some(Label::Hotfixes));
        assert_eq!(classify("Total Physical Memory"), None);
    }

    #[test]
    fn configurations() {
        for (v, server) in [
            ("Standalone Workstation", false),
            ("Member Server", true),
            ("Primary Domain Controller", true),
            ("Eigenständige Arbeitsstation", false),
            ("Station de travail autonome", false),
            ("Estación de trabajo independiente", false),
            ("Основной контроллер домена", true),
            ("独立工作站", false),
            ("Workstation membro", false),
            ("Mitgliedsserver", true),
        ] {
            assert_eq!(configuration_is_server(v), Some(server), "{v}");
        }
        assert_eq!(configuration_is_server("Multiprocessor Free"), None);
    }
}
